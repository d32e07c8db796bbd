using System.Net;
using Jumpgate.Cli.Admin;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Api;
using Jumpgate.Core.Audit;
using Jumpgate.Core.Protocol;
using Jumpgate.Core.Security;
using Jumpgate.Core.Streams;
using Jumpgate.Gateway.Hosting;
using Jumpgate.TestSupport;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Jumpgate.Tests.InProcess;

/// <summary>
/// A real gateway inside the test process: the directory `gateway init` writes (certificate, store,
/// gateway.yaml), served by <see cref="GatewayServer.RunAsync"/> on 127.0.0.1 port 0, so users and
/// agents reach it through its one TLS port exactly as they do in production. The admin works on
/// its store as `jumpgate gateway … --dir` does (<see cref="LocalAdmin"/>), which the gateway picks up
/// through its access re-check, set here to its shortest (100 ms) so a revocation lands promptly.
/// A user named researcher exists, and the default rule lets everyone reach everything.
/// </summary>
internal sealed class GatewayInProcess : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly CancellationTokenSource _stop = new();
    private Task _running = Task.CompletedTask;

    private GatewayInProcess(TempDirectory dir, Fingerprint fingerprint)
    {
        _dir = dir;
        Fingerprint = fingerprint;
    }

    public Fingerprint Fingerprint { get; }

    /// <summary>Where this gateway's log and its agents' logs go; a test sharing the gateway points it at its own output.</summary>
    public TestOutput Output { get; } = new();

    /// <summary>https://127.0.0.1:PORT, as users and agents are told it.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The gateway as the CLI and the agent dial it: its address and pinned certificate.</summary>
    public GatewayEndpoint Endpoint => new(new Uri(Url), Fingerprint);

    public int Port => new Uri(Url).Port;

    /// <summary>The admin commands on the gateway's own store.</summary>
    public LocalAdmin Admin { get; private set; } = null!;

    /// <summary>researcher's token.</summary>
    public string UserToken { get; private set; } = "";

    /// <param name="gatewayYaml">Added to gateway.yaml (for instance a pool_size).</param>
    /// <param name="store">A postgres:// URL (as `gateway init --store` takes it), or null for the SQLite file.</param>
    /// <param name="user">The user made at start; gateways that share a store need one each.</param>
    /// <param name="certificateFrom">A gateway whose certificate and key this one uses (`gateway init --certificate-from`), as gateways that share a store must.</param>
    public static async Task<GatewayInProcess> StartAsync(ITestOutputHelper? output, string? gatewayYaml = null, string? store = null, string user = "researcher", GatewayInProcess? certificateFrom = null)
    {
        var dir = new TempDirectory("jg-inproc");
        var fingerprint = GatewayInit.Run(dir.Path, new IPEndPoint(IPAddress.Loopback, 0), "localhost",
            certificateFrom?._dir.File("gateway.crt"), certificateFrom?._dir.File("gateway.key"), store)!;
        await File.AppendAllTextAsync(dir.File("gateway.yaml"), $"""
            drain_timeout: 1s
            access:
              recheck_interval: 100ms
            {gatewayYaml}

            """);
        var gateway = new GatewayInProcess(dir, fingerprint);
        gateway.Output.Current = output;
        try
        {
            await gateway.RunAsync(user);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
        return gateway;
    }

    private async Task RunAsync(string user)
    {
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new TestLog(Output, "gateway");
        _running = Task.Run(() => GatewayServer.RunAsync(_dir.Path, logging =>
        {
            logging.SetMinimumLevel(LogLevel.Debug);
            logging.AddProvider(log);
        }, _stop.Token, address => listening.TrySetResult(address)));
        // A gateway that fails to start says why here instead of leaving the test waiting.
        await Task.WhenAny(listening.Task, _running).WaitAsync(Signals.Timeout(30));
        await (_running.IsFaulted ? _running : Task.CompletedTask);
        Url = await listening.Task;
        Admin = new LocalAdmin(_dir.Path);
        UserToken = await AddUserAsync(user);
    }

    public async Task<string> AddUserAsync(string name) =>
        (await Admin.AddAsync(PrincipalKind.User, new AddPrincipalRequest(name), CancellationToken.None)).Token;

    public async Task<string> AddAgentAsync(string name, string hosts) =>
        (await Admin.AddAsync(PrincipalKind.Agent, new AddPrincipalRequest(name, hosts), CancellationToken.None)).Token;

    /// <summary>Replaces the default rule (everyone reaches everything) with <paramref name="rules"/>: deny by default.</summary>
    public async Task RestrictAsync(params RuleRequest[] rules)
    {
        await Admin.RevokeAsync(new RuleRequest("@everyone", "*"), CancellationToken.None);
        foreach (var rule in rules)
        {
            await Admin.GrantAsync(rule, CancellationToken.None);
        }
    }

    /// <summary>
    /// What `jumpgate proxy` does: one connection for one stream. Returns the stream once the
    /// gateway says yes; a refusal is a <see cref="GatewayException"/> whose message is what the user reads.
    /// </summary>
    public async Task<TlsStream> ConnectAsync(string host, string service, string? token = null, bool probe = false)
    {
        using var deadline = new CancellationTokenSource(Signals.Timeout(15));
        var hello = new Hello { Type = HelloType.Connect, Token = token ?? UserToken, Host = host, Service = service, Probe = probe };
        var (stream, _) = await GatewayDialer.HandshakeAsync(Endpoint, hello, deadline.Token);
        return stream;
    }

    /// <summary>What `jumpgate forward` keeps: a user trunk, on which each stream is opened.</summary>
    public GatewayTrunk OpenTrunk(string? token = null) => new(Endpoint, token ?? UserToken, TrunkFailed);

    /// <summary>What `forward` would print when its trunk's reader fails: the running test's output shows it.</summary>
    public void TrunkFailed(Exception e) => Output.WriteLine($"forward: the trunk failed: {e.Message}");

    /// <summary>
    /// The first audit event (as `jumpgate gateway audit` reads them from the store) that matches;
    /// the gateway writes its events in batches, so this waits for it to appear.
    /// </summary>
    public async Task<AuditEvent> WaitForAuditAsync(Func<AuditEvent, bool> match, string kind = AuditEvent.KindStream)
    {
        AuditEvent? found = null;
        var appeared = await Signals.UntilAsync(async () =>
        {
            found = (await Admin.AuditAsync(null, null, null, 1000, kind, CancellationToken.None)).FirstOrDefault(match);
            return found is not null;
        }, Signals.Timeout(10), TimeSpan.FromMilliseconds(20));
        return appeared ? found! : throw new TimeoutException("no matching audit event within 10 s");
    }

    /// <summary>Stops the gateway as Ctrl-C does; stop its agents first, so nothing waits for the drain timeout.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _running;
        Admin?.Dispose();
        _dir.Dispose();
    }
}
