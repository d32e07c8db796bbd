using System.Globalization;

namespace Jumpgate.Bench.Figures;

/// <summary>
/// `jumpgate proxy`'s CPU on the SSH path, for the scp figure: ProxyCommand runs inside a small
/// bash wrapper that waits for it and appends bash's `times` for its children (user, system); with
/// fdpass that is the proxy's start-up and the leg's handshake, whatever the file's size.
/// </summary>
internal static class ProxyCpu
{
    /// <summary>
    /// Runs the command it is given as ProxyCommand would, waits for it and logs its CPU time. ssh
    /// sends a relaying ProxyCommand SIGHUP as it exits: passed on, and waited out, so the time is
    /// still counted. A background job's stdin would be /dev/null without the explicit 0&lt;&amp;0, and
    /// `times` in a pipe would run in a subshell that has no children to count.
    /// </summary>
    private const string Wrapper = """
        #!/bin/bash
        log="$1"; shift
        trap 'kill -HUP "$proxy" 2>/dev/null' HUP
        "$@" 0<&0 &
        proxy=$!
        while ! wait "$proxy"; do kill -0 "$proxy" 2>/dev/null || break; done
        { times; } >> "$log"

        """;

    /// <summary>Writes the wrapper and the config (beside <paramref name="config"/>) whose ProxyCommand it runs; returns that config and the log it appends to.</summary>
    public static async Task<(string Config, string Log)> TimedConfigAsync(string config, string directory)
    {
        var wrapper = Path.Combine(directory, "timed-proxy");
        await File.WriteAllTextAsync(wrapper, Wrapper);
        var log = Path.Combine(directory, "proxy-times.log");
        var lines = (await File.ReadAllLinesAsync(config)).Select(line => line.TrimStart().StartsWith("ProxyCommand ", StringComparison.Ordinal)
            ? line.Replace("ProxyCommand ", $"ProxyCommand /bin/bash {wrapper} {log} ", StringComparison.Ordinal)
            : line);
        var timed = config + ".timed";
        await File.WriteAllLinesAsync(timed, lines);
        return (timed, log);
    }

    /// <summary>
    /// The proxy's user + system seconds: bash's `times` writes two lines, the shell's own and its
    /// children's ("0m0.120s 0m0.030s"); the second of each pair is the proxy's.
    /// </summary>
    public static double CpuSeconds(string log) => File.ReadAllLines(log)
        .Where(line => line.Contains('m', StringComparison.Ordinal))
        .Where((_, i) => i % 2 == 1)
        .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Sum(field =>
        {
            var minutes = field.IndexOf('m', StringComparison.Ordinal);
            return double.Parse(field[..minutes], CultureInfo.InvariantCulture) * 60 + double.Parse(field[(minutes + 1)..^1], CultureInfo.InvariantCulture);
        });
}
