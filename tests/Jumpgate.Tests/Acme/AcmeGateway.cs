using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Jumpgate.Gateway.Hosting;
using Jumpgate.Tests.InProcess;
using Jumpgate.TestSupport;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;

namespace Jumpgate.Tests.Acme;

/// <summary>
/// A gateway with an <c>acme:</c> section, as `gateway init` writes it plus the section, run in the
/// test process by <see cref="GatewayServer.RunAsync"/>; its log lines are kept so a test can wait on one.
/// </summary>
internal sealed class AcmeGateway : IAsyncDisposable
{
    private readonly TempDirectory _dir = new("jg-acme-gw");
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _lines = [];
    private readonly TestOutput _output = new();
    private Task _running = Task.CompletedTask;

    private AcmeGateway(ITestOutputHelper output) => _output.Current = output;

    public string Directory => _dir.Path;

    public int Port { get; private set; }

    public string[] Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>Writes the gateway (domain <paramref name="domain"/>, <paramref name="acmeYaml"/> as its acme: section, none: self-signed) without starting it.</summary>
    public static AcmeGateway Create(ITestOutputHelper output, string domain, string? acmeYaml)
    {
        var gateway = new AcmeGateway(output);
        GatewayInit.Run(gateway._dir.Path, new IPEndPoint(IPAddress.Loopback, 0), domain, null, null);
        if (acmeYaml is not null)
        {
            File.AppendAllText(gateway._dir.File("gateway.yaml"), "acme:\n" + string.Join('\n', acmeYaml.Split('\n').Select(line => "  " + line)) + "\n");
        }
        return gateway;
    }

    /// <summary>
    /// Runs the `jumpgate` program as a user on this machine would, with its settings in <paramref name="home"/>
    /// and, as its system CA store, only <paramref name="caFile"/>: OpenSSL, which .NET's chain building reads
    /// the store through on Linux, takes SSL_CERT_FILE and SSL_CERT_DIR in place of the distribution's store.
    /// </summary>
    public async Task<CommandResult> ClientAsync(string home, string caFile, params string[] arguments)
    {
        var empty = Path.Combine(home, "no-ca-dir");
        System.IO.Directory.CreateDirectory(empty);
        var environment = new Dictionary<string, string> { ["XDG_CONFIG_HOME"] = home, ["SSL_CERT_FILE"] = caFile, ["SSL_CERT_DIR"] = empty };
        return await Command.RunAsync(TestSupport.Jumpgate.Built, arguments, Signals.Timeout(60), environment, output: _output.Current);
    }

    /// <summary>A user token from `jumpgate gateway add-user`, run against the running gateway's directory as an admin runs it.</summary>
    public async Task<string> AddUserAsync(string name)
    {
        var result = await Command.RunAsync(TestSupport.Jumpgate.Built, ["gateway", "add-user", name, "--dir", Directory], Signals.Timeout(60), output: _output.Current);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout.Trim();
    }

    /// <summary>Runs the gateway until it listens (it has its certificate then), or throws why it did not start.</summary>
    public async Task StartAsync()
    {
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _output.Tap = line =>
        {
            lock (_lines)
            {
                _lines.Add(line);
            }
        };
        var log = new TestLog(_output, "gateway");
        _running = Task.Run(() => GatewayServer.RunAsync(_dir.Path, logging =>
        {
            logging.SetMinimumLevel(LogLevel.Debug);
            logging.AddProvider(log);
        }, _stop.Token, address => listening.TrySetResult(address)));
        await Task.WhenAny(listening.Task, _running).WaitAsync(Signals.Timeout(120));
        await (_running.IsCompleted ? _running : Task.CompletedTask);
        Port = new Uri(await listening.Task).Port;
    }

    public async Task<string> WaitForLogAsync(string pattern, TimeSpan timeout)
    {
        string? found = null;
        var seen = await Signals.UntilAsync(() =>
        {
            found = Lines.FirstOrDefault(line => Regex.IsMatch(line, pattern));
            return Task.FromResult(found is not null);
        }, timeout, TimeSpan.FromMilliseconds(100));
        Assert.True(seen, $"the gateway did not log /{pattern}/ within {timeout.TotalSeconds:0} s");
        return found!;
    }

    /// <summary>
    /// What `openssl s_client -verify_return_error -CAfile ROOT` makes of the gateway's port for <paramref name="serverName"/>:
    /// whether the chain verified (exit code and "Verify return code: 0 (ok)") and the certificate served.
    /// </summary>
    public async Task<(bool Verified, X509Certificate2? Leaf, string Output)> ProbeAsync(string serverName, string caFile)
    {
        var start = new ProcessStartInfo("openssl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "s_client", "-connect", $"127.0.0.1:{Port}", "-servername", serverName, "-verify_hostname", serverName, "-verify_return_error", "-CAfile", caFile })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Signals.Timeout(30));
        var text = await stdout + await stderr;
        var pem = Regex.Match(text, "-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----");
        var leaf = pem.Success ? X509Certificate2.CreateFromPem(pem.Value) : null;
        return (process.ExitCode == 0 && text.Contains("Verify return code: 0 (ok)", StringComparison.Ordinal), leaf, text);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _running.WaitAsync(Signals.Timeout(30));
        }
        catch (InvalidOperationException)
        {
            // A gateway that failed to start: the test has looked at why already.
        }
        _output.Current = null;
        _stop.Dispose();
        _dir.Dispose();
    }
}
