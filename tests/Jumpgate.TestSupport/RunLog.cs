using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Jumpgate.TestSupport;

/// <summary>
/// What a whole test run leaves for the suite-wide token leak check (<see cref="LeakScanner"/>):
/// every child process's output, every gateway's audit files and store, and the SHA-256 of every
/// token secret the suite issued, under <c>$JUMPGATE_TEST_RUN</c> (test.sh makes one per run and
/// runs the check after `dotnet test`). Tokens themselves are never written here, so the check
/// cannot find its own bookkeeping. Without the variable, nothing is recorded.
/// </summary>
public static partial class RunLog
{
    public const string Variable = "JUMPGATE_TEST_RUN";

    private static long _sequence;

    /// <summary>The run's directory, or null when no run is being recorded.</summary>
    public static string? Directory { get; } = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } dir ? dir : null;

    /// <summary>A token as `jumpgate gateway add-user|add-agent|add-admin|token-add` prints it.</summary>
    [GeneratedRegex("jg[uax]_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")]
    public static partial Regex TokenPattern();

    /// <summary>Records that the suite issued <paramref name="token"/>: only the SHA-256 of its secret is written.</summary>
    public static void Issued(string token)
    {
        if (Directory is null || !TokenPattern().IsMatch(token))
        {
            return;
        }
        var path = Path.Combine(Directory, "tokens", $"{Environment.ProcessId}.sha256");
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        lock (typeof(RunLog))
        {
            File.AppendAllText(path, HashOfSecret(token.Trim()[^LeakScanner.SecretLength..]) + "\n");
        }
    }

    /// <summary>A new log file for one process's output, or null when no run is being recorded.</summary>
    public static StreamWriter? Create(string name)
    {
        if (Directory is null)
        {
            return null;
        }
        var logs = Path.Combine(Directory, "logs");
        System.IO.Directory.CreateDirectory(logs);
        var safe = Regex.Replace(name, "[^A-Za-z0-9_.-]+", "-");
        // A file name may hold 255 bytes; a long command line (a shell script passed with -c) is cut to its start.
        safe = safe[..Math.Min(safe.Length, 80)];
        var path = Path.Combine(logs, $"{Environment.ProcessId}-{Interlocked.Increment(ref _sequence):D5}-{safe}.log");
        return new StreamWriter(path, append: false, Encoding.UTF8) { AutoFlush = true };
    }

    /// <summary>Writes what a finished command printed, its arguments with any token replaced (tests pass some on purpose, e.g. `login --token`).</summary>
    public static void Command(string fileName, IEnumerable<string> arguments, CommandResult result)
    {
        using var log = Create(Path.GetFileName(fileName) + "-" + string.Join('-', arguments.Take(2)));
        if (log is null)
        {
            return;
        }
        var argv = arguments.Select(a => TokenPattern().IsMatch(a) ? "<a token the test passed>" : a).ToList();
        log.WriteLine($"$ {Path.GetFileName(fileName)} {string.Join(' ', argv)}");
        log.WriteLine($"exit {result.ExitCode}");
        // A command that issues a token prints it and nothing else on stdout: that is where tokens belong, so it is recorded by hash instead.
        var issues = argv.Any(a => a is "add-user" or "add-agent" or "add-admin" or "token-add");
        if (issues && TokenPattern().Match(result.Stdout) is { Success: true } token && result.Stdout.Trim() == token.Value)
        {
            Issued(token.Value);
            log.WriteLine("stdout: <a new token, recorded by the hash of its secret>");
        }
        else
        {
            log.WriteLine($"stdout: {result.Stdout}");
        }
        log.WriteLine($"stderr: {result.Stderr}");
    }

    /// <summary>Keeps a gateway directory's audit files and store (with its WAL) for the check, before the directory is deleted.</summary>
    public static void KeepGatewayFiles(string gatewayDir)
    {
        if (Directory is null || !System.IO.Directory.Exists(gatewayDir))
        {
            return;
        }
        var target = Path.Combine(Directory, "files", $"{Environment.ProcessId}-{Interlocked.Increment(ref _sequence):D5}");
        System.IO.Directory.CreateDirectory(target);
        foreach (var file in System.IO.Directory.GetFiles(gatewayDir).Where(f => Path.GetFileName(f) is var name && (name.StartsWith("audit", StringComparison.Ordinal) || name.StartsWith("gateway.db", StringComparison.Ordinal))))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }
    }

    public static string HashOfSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(secret)));
}
