using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Jumpgate.Cli.Client;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// Jupyter on a remote host in one command, over the user's own OpenSSH: one ssh session runs a script
/// (on its stdin) that starts Jupyter bound to 127.0.0.1 on a free port with a fresh token (in its
/// environment, JUPYTER_TOKEN: never in an argv that ps shows), then waits on that stdin; a second,
/// <c>ssh -N -L</c>, forwards a free local port to it. Closing the first session's stdin is the stop
/// signal: the script kills Jupyter when it reads end of file, which also happens when ssh dies.
/// </summary>
internal sealed class RemoteJupyter(string host, string? sshConfig, TextWriter output, TextWriter errors)
{
    /// <summary>Jupyter's first start imports a lot (a minute on a slow NFS home is not unusual).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    public string? Environment { get; init; }

    public string? Folder { get; init; }

    public bool Keep { get; init; }

    public bool OpenBrowser { get; init; }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        using var session = Start("ssh", [.. Base(), "-T", host, "sh -s"]);
        await session.StandardInput.WriteAsync(Script(token).AsMemory(), cancellationToken);
        await session.StandardInput.FlushAsync(cancellationToken);
        var stderr = session.StandardError.ReadToEndAsync(CancellationToken.None);
        Process? forward = null;
        try
        {
            var started = await ReadStartedAsync(session, stderr, cancellationToken);
            var localPort = LoopbackPort.Free();
            forward = Start("ssh", [.. Base(), "-o", "ExitOnForwardFailure=yes", "-o", "ControlMaster=no", "-N", "-L", $"127.0.0.1:{localPort}:127.0.0.1:{started.Port}", host]);
            var url = $"http://127.0.0.1:{localPort}/?token={token}";
            await WaitUntilAnswersAsync(localPort, token, forward, cancellationToken);
            errors.WriteLine($"Jupyter {started.App} on {host}, 127.0.0.1:{started.Port} (pid {started.Pid}), forwarded to 127.0.0.1:{localPort}; Ctrl-C {(Keep ? "stops the forward, Jupyter keeps running" : "stops it")}");
            output.WriteLine(url);
            await output.FlushAsync(cancellationToken);
            if (OpenBrowser)
            {
                await Browser.OpenAsync(url, cancellationToken);
            }
            await forward.WaitForExitAsync(cancellationToken);
            // Ctrl-C in a terminal reaches the whole process group: ssh may end a moment before our token says so.
            if (cancellationToken.IsCancellationRequested)
            {
                return 130;
            }
            errors.WriteLine($"the forward to {host} ended (ssh exit {forward.ExitCode})");
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 130;
        }
        finally
        {
            if (forward is { HasExited: false })
            {
                forward.Kill();
            }
            forward?.Dispose();
            // End of file on the script's stdin: it stops Jupyter (unless --keep) and exits.
            session.StandardInput.Close();
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await session.WaitForExitAsync(bounded.Token);
            }
            catch (OperationCanceledException)
            {
                // The host stopped answering; our ssh client is ours to end, the remote side ends with its session.
                session.Kill();
            }
        }
    }

    private sealed record Started(int Port, int Pid, string App);

    private async Task<Started> ReadStartedAsync(Process session, Task<string> stderr, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartTimeout);
        while (await session.StandardOutput.ReadLineAsync(deadline.Token) is { } line)
        {
            if (!line.StartsWith(HostProbe.Marker, StringComparison.Ordinal))
            {
                continue;
            }
            var words = line[HostProbe.Marker.Length..].Split(' ', 2);
            if (words[0] == "failed")
            {
                throw new CliException($"{host}: {words.ElementAtOrDefault(1)}");
            }
            var parts = words.ElementAtOrDefault(1)?.Split(' ') ?? [];
            if (words[0] == "started" && parts.Length == 3 && int.TryParse(parts[0], out var port) && int.TryParse(parts[1], out var pid))
            {
                return new Started(port, pid, parts[2]);
            }
        }
        await session.WaitForExitAsync(cancellationToken);
        var error = await stderr;
        throw new CliException($"{host}: could not start Jupyter" + (session.ExitCode == 255 ? $": {Fleet.Ssh.Describe(error, host)}" : $" (exit {session.ExitCode}){(error.Length > 0 ? ": " + error.Trim().Split('\n')[^1] : "")}"));
    }

    /// <summary>Polls Jupyter's /api/status through the forward until it answers (bounded): the one signal that both are up.</summary>
    private async Task WaitUntilAnswersAsync(int localPort, string token, Process forward, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("token", token);
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < StartTimeout)
        {
            if (forward.HasExited)
            {
                throw new CliException($"ssh -L to {host} exited ({forward.ExitCode}): {(await forward.StandardError.ReadToEndAsync(cancellationToken)).Trim()}");
            }
            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{localPort}/api/status", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet, at either end of the forward.
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
        throw new CliException($"Jupyter on {host} did not answer within {StartTimeout.TotalSeconds:0}s");
    }

    private IEnumerable<string> Base() => sshConfig is null ? ["-o", "BatchMode=yes"] : ["-F", sshConfig, "-o", "BatchMode=yes"];

    private string Script(string token) =>
        $"token={HostProbe.Quote(token)}\nname={HostProbe.Quote(Environment ?? "")}\ndir={HostProbe.Quote(Folder ?? "")}\nkeep={(Keep ? "yes" : "no")}\n" + """
        fail() { echo "@@jumpgate:failed $*"; exit 0; }
        if [ -n "$name" ]; then
          manager=
          for m in conda mamba micromamba; do p=$(command -v "$m" 2>/dev/null) && [ -n "$p" ] && { manager=$p; break; }; done
          for p in "$CONDA_EXE" "$MAMBA_EXE" "$HOME/miniforge3/bin/conda" "$HOME/miniconda3/bin/conda" "$HOME/anaconda3/bin/conda" /opt/conda/bin/conda; do
            [ -z "$manager" ] && [ -n "$p" ] && [ -x "$p" ] && manager=$p
          done
          [ -n "$manager" ] || fail "no conda, mamba or micromamba for --env $name"
          prefix=$("$manager" env list --json | grep -o '"/[^"]*"' | tr -d '"' | grep "/envs/$name\$" | head -n 1)
          [ -n "$prefix" ] || fail "no conda environment $name"
          bin=$prefix/bin
        else
          j=$(command -v jupyter 2>/dev/null) || fail "no jupyter on the PATH (name a conda environment with --env)"
          bin=$(dirname "$j")
        fi
        if [ -x "$bin/jupyter-lab" ]; then app=lab; elif [ -x "$bin/jupyter-notebook" ]; then app=notebook; else fail "no jupyter lab or notebook in $bin"; fi
        py=$bin/python3; [ -x "$py" ] || py=$(command -v python3)
        port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || fail "cannot find a free port"
        [ -n "$dir" ] || dir=$HOME
        set -- "$bin/jupyter-$app" --no-browser --ip=127.0.0.1 --port="$port" --port-retries=0 --notebook-dir="$dir"
        [ "$(id -u)" = 0 ] && set -- "$@" --allow-root
        export JUPYTER_TOKEN="$token"
        log=$HOME/.jumpgate-jupyter-$port.log
        if [ "$keep" = yes ]; then
          nohup "$@" >"$log" 2>&1 </dev/null &
        else
          "$@" >"$log" 2>&1 </dev/null &
        fi
        pid=$!
        echo "@@jumpgate:started $port $pid $app"
        [ "$keep" = yes ] && exit 0
        cat >/dev/null
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$log"
        """;


    private static Process Start(string program, IEnumerable<string> arguments)
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
        try
        {
            return Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            throw new CliException($"cannot run {program} ({e.Message}); `jumpgate jupyter` needs OpenSSH's ssh client on the PATH");
        }
    }
}
