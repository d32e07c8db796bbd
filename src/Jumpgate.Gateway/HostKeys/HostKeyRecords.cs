using Jumpgate.Core.Audit;
using Jumpgate.Core.Security;
using Jumpgate.Gateway.Audit;
using Jumpgate.Gateway.Logging;
using Jumpgate.Gateway.Store;
using Microsoft.Extensions.Logging;

namespace Jumpgate.Gateway.HostKeys;

/// <summary>
/// What the gateway makes of the host keys an agent read (docs/threat-model.md, "Host keys"): the
/// first keys of a host are recorded and vouched for; keys that differ later are kept aside,
/// logged and audited, and vouched for only once an admin accepts them
/// (`jumpgate gateway host-keys accept HOST`). A report whose keys are all recorded ones (a scan
/// that got fewer key types counts) changes nothing, and withdraws a change that was waiting.
/// </summary>
internal sealed class HostKeyRecords(IHostKeyStore store, AuditLog audit, StoreHealth health, TimeProvider time, ILogger<HostKeyRecords> logger)
{
    /// <summary>The keys <paramref name="agent"/> read from <paramref name="host"/>'s ssh service.</summary>
    public void Report(string agent, string? source, string host, IReadOnlyList<SshHostKey> keys)
    {
        var now = time.GetUtcNow();
        List<string> read = [.. keys.Select(k => k.ToString())];
        try
        {
            var record = store.Find(host);
            if (record is null)
            {
                if (store.RecordFirst(host, read, agent, now))
                {
                    GatewayLog.HostKeysRecorded(logger, host, agent, Describe(read));
                    Write(now, "recorded", agent, source, host, $"recorded the first host keys of {host}, read by agent {agent}: {Describe(read)}");
                    return;
                }
                // Another gateway of the store recorded them a moment ago: compare with those.
                record = store.Find(host)!;
            }
            if (read.All(record.Keys.Contains))
            {
                if (record.Pending is not null)
                {
                    store.SetPending(host, null, null, now);
                    GatewayLog.HostKeysReverted(logger, host, agent);
                    Write(now, "reverted", agent, source, host, $"agent {agent} read the recorded host keys of {host} again; the change waiting for an admin is withdrawn");
                }
                return;
            }
            if (record.Pending is { } pending && pending.SequenceEqual(read))
            {
                // Told already (this is a reconnect or another gateway's agent session): one audit event per change.
                return;
            }
            store.SetPending(host, read, agent, now);
            GatewayLog.HostKeysChanged(logger, host, agent, Describe(read), Describe(record.Keys));
            Write(now, "changed", agent, source, host,
                $"agent {agent} read host keys of {host} that differ from the recorded ones (read: {Describe(read)}; recorded: {Describe(record.Keys)}); " +
                $"ssh users keep getting the recorded keys until an admin runs `jumpgate gateway host-keys accept {host}`");
        }
        catch (Exception e) when (StoreHealth.IsOutage(e))
        {
            // Nothing is recorded and nothing served changes; the agent sends the keys again when it reconnects.
            health.Lost(e);
        }
    }

    /// <summary>Each key as its type and fingerprint, as `ssh-keygen -l` shows it.</summary>
    public static string Describe(IEnumerable<string> keys) =>
        string.Join(", ", keys.Select(k => SshHostKey.TryParse(k, out var key) ? key.Describe() : "(not a key)"));

    private void Write(DateTimeOffset now, string outcome, string agent, string? source, string host, string reason) =>
        audit.Write(new AuditEvent { Time = now, Event = AuditEvent.KindHostKey, Outcome = outcome, Agent = agent, Source = source, Host = host, Service = "ssh", Reason = reason });
}
