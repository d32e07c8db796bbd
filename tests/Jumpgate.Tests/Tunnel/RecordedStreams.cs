using System.Diagnostics.Metrics;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Access;
using Jumpgate.Gateway.Agents;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Metrics;
using Jumpgate.Gateway.Tunnel;
using Jumpgate.Tests.Store;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Jumpgate.Tests.Tunnel;

/// <summary>
/// Streams as the gateway records them, without a network: a real audit log on a temporary store,
/// the gateway's metrics, and the one list of live streams they are entered in.
/// </summary>
internal sealed class RecordedStreams : IAsyncDisposable
{
    private readonly TempStore _temp = new("jg-streams");
    private readonly AuditLog _audit;
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public RecordedStreams()
    {
        _audit = new AuditLog(_temp.Store.Audit, _temp.Store.Health, new AuditFile(_temp.Directory.File("audit.jsonl")), TimeProvider.System, NullLogger<AuditLog>.Instance);
        Metrics = new GatewayMetrics(_meters.GetRequiredService<IMeterFactory>(), new AgentRegistry(), Live, _temp.Store.Health);
    }

    public LiveStreams Live { get; } = new();

    public GatewayMetrics Metrics { get; }

    /// <summary>The factory this gateway's meter came from: a listener tells its instruments from other tests' by it (<see cref="Meter.Scope"/>).</summary>
    public IMeterFactory MeterFactory => _meters.GetRequiredService<IMeterFactory>();

    /// <summary>A user's stream as its request arrives: recorded and listed, not yet answered.</summary>
    public (StreamRecord Record, LiveStreams.Listing Listed) Request(string user, string service = "echo")
    {
        var record = new StreamRecord(new Principal(PrincipalKind.User, user, null, "000000000000"), "127.0.0.1:1", "node1", service, _audit, Metrics, NullLogger.Instance, TimeProvider.System);
        return (record, Live.Add(record));
    }

    /// <summary>A user's stream whose far end has answered: it carries bytes from now on.</summary>
    public (StreamRecord Record, LiveStreams.Listing Listed) Open(string user, string service = "echo")
    {
        var (record, listed) = Request(user, service);
        record.Opened("127.0.0.1:2");
        return (record, listed);
    }

    public async ValueTask DisposeAsync()
    {
        await _audit.DisposeAsync();
        await _meters.DisposeAsync();
        _temp.Dispose();
    }
}
