using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Jumpgate.Core.Protocol;
using Microsoft.AspNetCore.Connections;

namespace Jumpgate.Gateway.Tunnel;

/// <summary>
/// Where the two plain TCP legs of each authorised direct stream meet (docs/protocol.md, "Direct
/// streams"). The broker registers a stream before it hands out the tickets and removes it when
/// the stream ends or its legs are late; a leg with an unknown id or a wrong secret is refused.
/// </summary>
internal sealed class DirectRendezvous
{
    private readonly ConcurrentDictionary<string, Meeting> _meetings = new(StringComparer.Ordinal);

    public Meeting Open()
    {
        var meeting = new Meeting();
        _meetings[meeting.Id] = meeting;
        return meeting;
    }

    public void Close(Meeting meeting)
    {
        _meetings.TryRemove(meeting.Id, out _);
        meeting.Finished.TrySetResult();
    }

    /// <summary>Hands a leg to its stream; returns what to await until the stream is over, or null if the leg is refused.</summary>
    public Task? Arrive(ReadOnlySpan<byte> id, ReadOnlySpan<byte> secret, ConnectionContext leg) =>
        _meetings.TryGetValue(Base64Url.EncodeToString(id), out var meeting) ? meeting.Arrive(secret, leg) : null;

    /// <summary>One direct stream's two legs: each end has its own secret, and each may arrive once.</summary>
    internal sealed class Meeting
    {
        private readonly byte[] _userSecret = RandomNumberGenerator.GetBytes(DirectLeg.SecretLength);
        private readonly byte[] _agentSecret = RandomNumberGenerator.GetBytes(DirectLeg.SecretLength);
        private readonly string _key = DirectLeg.NewRandom(DirectLeg.KeyLength);

        public string Id { get; } = DirectLeg.NewRandom(DirectLeg.IdLength);

        public TaskCompletionSource<ConnectionContext> User { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<ConnectionContext> Agent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set when the stream is over; the legs' connection handlers return then and Kestrel closes them.</summary>
        public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public DirectTicket UserTicket(string agentCertificate) => new() { Id = Id, Secret = Base64Url.EncodeToString(_userSecret), Key = _key, Certificate = agentCertificate };

        public DirectTicket AgentTicket => new() { Id = Id, Secret = Base64Url.EncodeToString(_agentSecret), Key = _key };

        public Task? Arrive(ReadOnlySpan<byte> secret, ConnectionContext leg)
        {
            // Both compared in constant time, whichever matches.
            var user = CryptographicOperations.FixedTimeEquals(secret, _userSecret);
            var agent = CryptographicOperations.FixedTimeEquals(secret, _agentSecret);
            return user && User.TrySetResult(leg) || agent && Agent.TrySetResult(leg) ? Finished.Task : null;
        }
    }
}
