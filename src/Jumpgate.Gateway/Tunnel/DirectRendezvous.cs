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

    /// <summary>A meeting for TLS legs, or for <paramref name="plain"/> legs that prove their secret to a nonce; <paramref name="refused"/> hears of every leg refused for it (source, reason, whether to audit it).</summary>
    public Meeting Open(bool plain = false, Action<string?, string, bool>? refused = null)
    {
        var meeting = new Meeting(plain, refused);
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

    /// <summary>The stream a plain leg names, if it is open; the leg then proves itself to <see cref="Meeting.ArrivePlain"/>.</summary>
    public Meeting? Find(ReadOnlySpan<byte> id) => _meetings.GetValueOrDefault(Base64Url.EncodeToString(id));

    /// <summary>One direct stream's two legs: each end has its own secret, and each may arrive once.</summary>
    internal sealed class Meeting(bool plain, Action<string?, string, bool>? refused)
    {
        /// <summary>Refused legs audited per stream; past this an observer hammering one stream is only logged.</summary>
        private const int RefusalsAudited = 8;

        private int _refusals;
        private readonly byte[] _userSecret = RandomNumberGenerator.GetBytes(DirectLeg.SecretLength);
        private readonly byte[] _agentSecret = RandomNumberGenerator.GetBytes(DirectLeg.SecretLength);
        private readonly string _key = DirectLeg.NewRandom(DirectLeg.KeyLength);

        public string Id { get; } = DirectLeg.NewRandom(DirectLeg.IdLength);

        /// <summary>Plain legs (an SSH service): each end proves its secret to a fresh nonce and the secret never crosses a leg.</summary>
        public bool Plain { get; } = plain;

        public TaskCompletionSource<ConnectionContext> User { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<ConnectionContext> Agent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set when the stream is over; the legs' connection handlers return then and Kestrel closes them.</summary>
        public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public DirectTicket UserTicket(string agentCertificate) => new() { Id = Id, Secret = Base64Url.EncodeToString(_userSecret), Key = _key, Certificate = agentCertificate, Plain = Plain };

        public DirectTicket AgentTicket => new() { Id = Id, Secret = Base64Url.EncodeToString(_agentSecret), Key = _key, Plain = Plain };

        public Task? Arrive(ReadOnlySpan<byte> secret, ConnectionContext leg)
        {
            // Both compared in constant time, whichever matches.
            var user = CryptographicOperations.FixedTimeEquals(secret, _userSecret);
            var agent = CryptographicOperations.FixedTimeEquals(secret, _agentSecret);
            if (Plain)
            {
                // A plain stream's secrets never cross a leg: one that did leaked, and pairs nothing.
                return Refuse(leg, user || agent ? "a plain stream's leg sent its secret instead of a proof" : "wrong secret");
            }
            return user && User.TrySetResult(leg) || agent && Agent.TrySetResult(leg) ? Finished.Task : Refuse(leg, user || agent ? "that end has already arrived" : "wrong secret");
        }

        /// <summary>
        /// A plain leg's answer to <paramref name="nonce"/>, which the gateway drew for that leg alone:
        /// returns what to await until the stream is over, or null (and the refusal is heard) for a
        /// wrong proof, a replayed one, an end that has already arrived or a stream on TLS legs.
        /// </summary>
        public Task? ArrivePlain(byte end, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> proof, ConnectionContext leg)
        {
            if (!Plain)
            {
                return Refuse(leg, "the stream's legs are TLS, not plain");
            }
            var (secret, waiting) = end switch
            {
                PlainLeg.UserEnd => (_userSecret, User),
                PlainLeg.AgentEnd => (_agentSecret, Agent),
                _ => (null, null),
            };
            if (secret is null || waiting is null)
            {
                return Refuse(leg, "no such end");
            }
            var expected = PlainLeg.Proof(secret, nonce, end, Base64Url.DecodeFromChars(Id));
            if (!CryptographicOperations.FixedTimeEquals(proof, expected))
            {
                return Refuse(leg, $"wrong proof for the {EndName(end)}'s leg (replayed or forged)");
            }
            return waiting.TrySetResult(leg) ? Finished.Task : Refuse(leg, $"the {EndName(end)}'s leg has already arrived");
        }

        private static string EndName(byte end) => end == PlainLeg.UserEnd ? "user" : "agent";

        private Task? Refuse(ConnectionContext leg, string reason)
        {
            refused?.Invoke(leg.RemoteEndPoint?.ToString(), reason, Interlocked.Increment(ref _refusals) <= RefusalsAudited);
            return null;
        }
    }
}
