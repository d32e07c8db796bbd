using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Jumpgate.Cli.Fleet;

/// <summary>What one ssh run gave back; <see cref="ExitCode"/> 255 is ssh's own failure, anything else the remote command's.</summary>
internal sealed record SshResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    public bool SshFailed => TimedOut || ExitCode == 255;
}

/// <summary>
/// Runs the system's OpenSSH with the fleet's config: first one master connection per host (held by
/// ControlPersist), then every command as a client of that master, so a probe costs no new handshake.
/// With no config (<see cref="UserConfig"/>), ssh reads the user's own, as a plain <c>ssh HOST</c> does.
/// </summary>
internal sealed class Ssh(string? configPath, string logFolder)
{
    /// <summary>The user's own ssh config (~/.ssh/config and the system's), where `jumpgate ssh-config` put the *.jg hosts.</summary>
    public static Ssh UserConfig(string? configPath = null) => new(configPath, Path.GetTempPath());

    /// <summary>Output kept per stream; the largest nvidia-smi report we know (8 GPUs) is a few hundred KiB.</summary>
    private const int MaxOutput = 8 << 20;

    public string? ConfigPath { get; } = configPath;

    /// <summary>
    /// Opens (or finds) the master connection to <paramref name="host"/>. Returns null on success or
    /// ssh's error: it goes to a log file (-E) because the backgrounded master keeps whatever stdio it
    /// was started with, and a pipe held open by it would never end.
    /// </summary>
    public async Task<string?> ConnectAsync(string host, TimeSpan timeout, CancellationToken cancellationToken)
    {
        System.Diagnostics.Debug.Assert(ConfigPath is not null, "master connections are for a fleet's own config");
        var check = await RunAsync(host, ["-O", "check"], command: null, stdin: null, timeout, onLine: null, cancellationToken);
        if (check.ExitCode == 0)
        {
            return null;
        }
        var log = SshConfig.Log(logFolder, host);
        var jumpLog = SshConfig.JumpLog(logFolder, host);
        File.Delete(log);
        File.Delete(jumpLog);
        // -f -N: authenticate, then leave the master in the background with no command of its own.
        // The log also takes the stderr of the head node's ssh -W, which says why a jump failed.
        string[] arguments = ["-c", "log=$1; shift; exec \"$@\" </dev/null >/dev/null 2>>\"$log\"", "sh", log, "ssh", "-F", ConfigPath!, "-E", log, "-o", "ControlMaster=yes", "-f", "-N", host];
        var result = await StartAsync("sh", arguments, stdin: null, timeout, onLine: null, cancellationToken);
        if (result.ExitCode == 0 && !result.TimedOut)
        {
            return null;
        }
        // The hop through the head node fails first and says why; the host's own log then only says the connection closed.
        var error = string.Concat(
            File.Exists(jumpLog) ? await File.ReadAllTextAsync(jumpLog, cancellationToken) : "",
            File.Exists(log) ? await File.ReadAllTextAsync(log, cancellationToken) : "");
        return result.TimedOut ? $"no answer within {timeout.TotalSeconds:0}s" + (FirstLine(error) is { Length: > 0 } line ? $" ({line})" : "") : Describe(error, host);
    }

    /// <summary>Runs a command over the host's master connection (never opening a second one).</summary>
    public Task<SshResult> ExecAsync(string host, string command, string? stdin, TimeSpan timeout, Action<string, bool>? onLine, CancellationToken cancellationToken) =>
        RunAsync(host, ["-o", "ControlMaster=no", "-T"], command, stdin, timeout, onLine, cancellationToken);

    /// <summary>Ends the host's master connection, if there is one.</summary>
    public Task<SshResult> DisconnectAsync(string host, CancellationToken cancellationToken) =>
        RunAsync(host, ["-O", "exit"], command: null, stdin: null, TimeSpan.FromSeconds(10), onLine: null, cancellationToken);

    private Task<SshResult> RunAsync(string host, string[] options, string? command, string? stdin, TimeSpan timeout, Action<string, bool>? onLine, CancellationToken cancellationToken)
    {
        // A fleet's config says BatchMode itself; a user's may not, and a prompt would hang a parallel run.
        List<string> arguments = ConfigPath is null ? ["-o", "BatchMode=yes", .. options, host] : ["-F", ConfigPath, "-o", "BatchMode=yes", .. options, host];
        if (command is not null)
        {
            arguments.Add(command);
        }
        return StartAsync("ssh", arguments, stdin, timeout, onLine, cancellationToken);
    }

    private static async Task<SshResult> StartAsync(string program, IReadOnlyList<string> arguments, string? stdin, TimeSpan timeout, Action<string, bool>? onLine, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new Client.CliException($"cannot run {program} ({e.Message}); fleets need OpenSSH's ssh client on the PATH");
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var stdout = ReadLinesAsync(process.StandardOutput, line => onLine?.Invoke(line, false));
        var stderr = ReadLinesAsync(process.StandardError, line => onLine?.Invoke(line, true));
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
        }
        process.StandardInput.Close();
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(deadline.Token);
            await Task.WhenAll(stdout, stderr).WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            // Only this ssh client: the master it talks to belongs to the host's other commands too.
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            timedOut = true;
        }
        return new SshResult(timedOut ? -1 : process.ExitCode, Completed(stdout), Completed(stderr), timedOut);
    }

    private static string Completed(Task<string> output) => output.IsCompletedSuccessfully ? output.Result : "";

    private static async Task<string> ReadLinesAsync(StreamReader reader, Action<string> onLine)
    {
        var text = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            onLine(line);
            if (text.Length < MaxOutput)
            {
                text.AppendLine(line);
            }
        }
        return text.ToString();
    }

    public const string KeyChanged = "the host key changed:";

    /// <summary>ssh's error in words: its first line (the cause; what follows are consequences), or the fingerprint offered when the host key changed.</summary>
    public static string Describe(string error, string host)
    {
        if (error.Contains("IDENTIFICATION HAS CHANGED", StringComparison.Ordinal))
        {
            return $"{KeyChanged} the host offered {KnownHosts.OfferedFingerprint(error) ?? "a different key"}";
        }
        return FirstLine(error) is { Length: > 0 } line ? line : $"ssh to {host} failed without saying why";
    }

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .FirstOrDefault(l => !l.StartsWith('@') && !l.StartsWith("Warning:", StringComparison.Ordinal)) ?? "";
}
