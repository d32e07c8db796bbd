using Jumpgate.Cli.Client;
using System.ComponentModel;
using System.Diagnostics;

namespace Jumpgate.Cli.Commands;

/// <summary>
/// The demo's own sshd: a throw-away one on a loopback port, with a host key and a client key made
/// for it, logging in only the user running the demo with that key. Nothing of the machine's sshd,
/// its config or the user's ~/.ssh is touched; everything lives in <c>DIR/ssh</c>.
/// </summary>
internal sealed class DemoSshd : IAsyncDisposable
{
    private readonly Process _process;

    private DemoSshd(Process process, int port, string folder)
    {
        _process = process;
        Port = port;
        Folder = folder;
    }

    public int Port { get; }

    public string Folder { get; }

    public string ClientKey => Path.Combine(Folder, "client_ed25519");

    public static string? Installed => new[] { "/usr/sbin/sshd", "/usr/local/sbin/sshd" }.FirstOrDefault(File.Exists);

    /// <summary>Starts sshd, or returns null with the reason when it cannot run here (the demo goes on without ssh).</summary>
    public static async Task<(DemoSshd? Sshd, string? Why)> TryStartAsync(string directory, CancellationToken cancellationToken)
    {
        if (Installed is not { } sshd)
        {
            return (null, "no sshd installed (apt install openssh-server)");
        }
        var folder = Path.Combine(directory, "ssh");
        Directory.CreateDirectory(folder);
        foreach (var key in new[] { "host_ed25519", "client_ed25519" })
        {
            if (!File.Exists(Path.Combine(folder, key)) && await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "jumpgate-demo", "-f", Path.Combine(folder, key)], cancellationToken) is { } failure)
            {
                return (null, $"ssh-keygen failed: {failure}");
            }
        }
        File.Copy(Path.Combine(folder, "client_ed25519.pub"), Path.Combine(folder, "authorized_keys"), overwrite: true);
        if (Environment.UserName == "root")
        {
            // sshd running as root wants its privilege-separation folder.
            Directory.CreateDirectory("/run/sshd");
        }
        var port = LoopbackPort.Free();
        var config = Path.Combine(folder, "sshd_config");
        await File.WriteAllTextAsync(config, $"""
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {Path.Combine(folder, "host_ed25519")}
            PidFile none
            AuthorizedKeysFile {Path.Combine(folder, "authorized_keys")}
            AllowUsers {Environment.UserName}
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no

            """, cancellationToken);
        var start = new ProcessStartInfo(sshd) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var argument in new[] { "-D", "-e", "-f", config })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start)!;
        var running = new DemoSshd(process, port, folder);
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is { } text)
            {
                log.Enqueue(text);
                if (text.StartsWith("Server listening on", StringComparison.Ordinal))
                {
                    listening.TrySetResult();
                }
            }
        };
        process.BeginErrorReadLine();
        try
        {
            await Task.WhenAny(listening.Task, process.WaitForExitAsync(cancellationToken)).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (TimeoutException)
        {
            // Judged below, by whether it said it listens.
        }
        if (!listening.Task.IsCompleted)
        {
            await running.DisposeAsync();
            return (null, $"sshd did not start: {string.Join(" / ", log.TakeLast(3))}");
        }
        return (running, null);
    }

    /// <summary>The known_hosts line that pins this sshd's host key to the name ssh is given.</summary>
    public string KnownHostsLine(string hostName) => $"{hostName} {string.Join(' ', File.ReadAllText(Path.Combine(Folder, "host_ed25519.pub")).Split(' ').Take(2))}";


    private static async Task<string?> RunAsync(string program, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            return process.ExitCode == 0 ? null : (await error).Trim();
        }
        catch (Win32Exception e)
        {
            return $"{program}: {e.Message}";
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // Already gone.
        }
        _process.Dispose();
    }
}
