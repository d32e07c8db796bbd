using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Xunit.Abstractions;

namespace Jumpgate.TestSupport;

/// <summary>
/// Debian's Chromium, headless, one run per page: <see cref="DumpDomAsync"/> prints the DOM after
/// the page's scripts ran, <see cref="ScreenshotAsync"/> keeps a PNG under <see cref="ArtifactsDirectory"/>.
/// It trusts exactly one self-signed certificate (by its public key) and nothing else.
/// </summary>
/// <remarks>
/// Runs of one instance share a profile and never overlap, so a cookie with an expiry that one run
/// receives (a login) is sent by the next. Session cookies (no expiry) die with each run.
/// Names under <c>.localhost</c> resolve to loopback inside Chromium without DNS or /etc/hosts,
/// which is how a test reaches the gateway's subdomains (<c>https://jupyter--node1.gw.localhost:port/</c>).
/// </remarks>
public sealed class Chromium : IDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly TempDirectory _profile = new("jg-chromium");
    private readonly SemaphoreSlim _oneRun = new(1, 1);
    private readonly ITestOutputHelper? _output;
    private readonly string? _trustedSpki;

    /// <param name="output">Where Chromium's complaints and the screenshot paths go.</param>
    /// <param name="trustedSpki">The base64 SHA-256 of the one certificate's SubjectPublicKeyInfo to trust (see <see cref="SpkiHash(X509Certificate2)"/>).</param>
    public Chromium(ITestOutputHelper? output, string? trustedSpki = null)
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing; install Debian's chromium (test.sh does)");
        }
        _output = output;
        _trustedSpki = trustedSpki;
    }

    /// <summary>The bound on one run; Chromium's cold start on a busy 2-core machine takes a few seconds.</summary>
    public TimeSpan Timeout { get; init; } = Signals.Timeout(60);

    /// <summary>
    /// Where screenshots go: <c>$JUMPGATE_TEST_ARTIFACTS</c> when set (CI collects it), otherwise
    /// <c>TestResults/artifacts</c> next to the test assembly.
    /// </summary>
    public static string ArtifactsDirectory =>
        Directory.CreateDirectory(Environment.GetEnvironmentVariable("JUMPGATE_TEST_ARTIFACTS") is { Length: > 0 } overridden
            ? overridden
            : Path.Combine(AppContext.BaseDirectory, "TestResults", "artifacts")).FullName;

    /// <summary>
    /// The value <c>--ignore-certificate-errors-spki-list</c> takes: base64 of the SHA-256 of the
    /// certificate's DER SubjectPublicKeyInfo. Chromium then accepts that key whatever the
    /// certificate's issuer or names, and still refuses every other certificate.
    /// </summary>
    public static string SpkiHash(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>The same from a PEM certificate file (the gateway's <c>gateway.crt</c>).</summary>
    public static string SpkiHash(string certificatePemPath)
    {
        // A collection import reads the certificate alone; CreateFromPemFile insists on finding its private key too.
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(certificatePemPath);
        try
        {
            return SpkiHash(certificates.FirstOrDefault() ?? throw new InvalidOperationException($"{certificatePemPath} holds no PEM certificate"));
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>Loads <paramref name="url"/>, lets its scripts run for <paramref name="settle"/> of virtual time (default 5 s), and returns the DOM.</summary>
    public async Task<string> DumpDomAsync(Uri url, TimeSpan? settle = null, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(url, ["--dump-dom", VirtualTime(settle)], cancellationToken);
        return result.Stdout;
    }

    /// <summary>
    /// Loads <paramref name="url"/> in a <paramref name="width"/>×<paramref name="height"/> window and saves a PNG at
    /// <paramref name="pngPath"/> (a relative path lands under <see cref="ArtifactsDirectory"/>). Returns the full path.
    /// </summary>
    public async Task<string> ScreenshotAsync(Uri url, string pngPath, int width = 1280, int height = 800, TimeSpan? settle = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        var path = Path.GetFullPath(pngPath, ArtifactsDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.Delete(path);
        await RunAsync(url, [$"--screenshot={path}", $"--window-size={width},{height}", "--hide-scrollbars", VirtualTime(settle)], cancellationToken);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"chromium wrote no screenshot for {url} at {path}");
        }
        Log($"screenshot of {url}: {path}");
        return path;
    }

    private static string VirtualTime(TimeSpan? settle) =>
        // Virtual time runs ahead while the page is idle, so a page whose scripts finish early costs no wall time.
        $"--virtual-time-budget={(long)(settle ?? TimeSpan.FromSeconds(5)).TotalMilliseconds}";

    private async Task<CommandResult> RunAsync(Uri url, IEnumerable<string> mode, CancellationToken cancellationToken)
    {
        List<string> arguments =
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            // This network refuses most outbound connections; the background fetches Chromium makes on
            // start (variations, component updates, sync, safe browsing lists) otherwise fill the log with failures.
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            // QUIC would try UDP to the same port; the gateway speaks TCP only.
            "--disable-quic",
            $"--user-data-dir={_profile.Path}",
            // Errors only: the D-Bus complaints of a machine without a session bus stay out of the test log.
            "--log-level=3",
        ];
        if (_trustedSpki is not null)
        {
            arguments.Add($"--ignore-certificate-errors-spki-list={_trustedSpki}");
        }
        arguments.AddRange(mode);
        arguments.Add(url.AbsoluteUri);

        await _oneRun.WaitAsync(cancellationToken);
        try
        {
            // Command.RunAsync kills Chromium and its helpers (its own process tree) when the bound passes.
            var started = System.Diagnostics.Stopwatch.StartNew();
            var result = await Command.RunAsync(ChromiumPath, arguments, Timeout);
            Log($"{url} ({mode.First()}): exit {result.ExitCode} after {started.Elapsed.TotalSeconds:0.0} s, {result.Stdout.Length} characters of DOM");
            foreach (var line in result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(IsWorthLogging))
            {
                Log(line);
            }
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"chromium exited with {result.ExitCode} for {url}: {result.Stderr}");
            }
            return result;
        }
        finally
        {
            _oneRun.Release();
        }
    }

    private static bool IsWorthLogging(string line) =>
        // Debian's launcher script trips on its own /dev/shm size test ("[: …: unexpected operator"), and
        // without a session bus every run logs D-Bus failures: neither says anything about the page.
        !line.Contains("dbus", StringComparison.OrdinalIgnoreCase) && !line.Contains("unexpected operator", StringComparison.Ordinal);

    private void Log(string line)
    {
        try
        {
            _output?.WriteLine($"[chromium] {line}");
        }
        catch (InvalidOperationException)
        {
            // The test has finished; its output helper no longer takes lines.
        }
    }

    public void Dispose()
    {
        _oneRun.Dispose();
        _profile.Dispose();
    }
}
