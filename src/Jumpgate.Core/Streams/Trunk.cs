using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Jumpgate.Core.Background;

namespace Jumpgate.Core.Streams;

/// <summary>
/// Many streams over one connection (docs/protocol.md, "Trunks"). A stream costs a frame
/// instead of a TLS handshake, and an idle stream costs a few hundred bytes instead of a TLS
/// connection. Each frame is an 8-byte header (type, 24-bit length, 32-bit stream id) and its
/// payload. Only one side opens streams (the opener: `forward` towards the gateway, the gateway
/// towards an agent); the first Data frame with a new, higher id opens one on the other side.
/// Every stream has its own credit window each way, so a stream whose reader stalls holds back
/// only itself, and the reader loop never waits on a write, so two trunks cannot deadlock.
/// </summary>
internal sealed partial class Trunk
{
    public const int HeaderSize = 8;

    /// <summary>
    /// A frame with its header fills eight 16 KiB TLS records exactly: a payload of a round
    /// 128 KiB would add a record of 8 bytes to every frame.
    /// </summary>
    public const int MaxPayload = 128 * 1024 - HeaderSize;

    /// <summary>What a sender may have unacknowledged per stream: enough to keep one stream at full speed on loopback.</summary>
    public const int Window = 1024 * 1024;

    private readonly Stream _transport;
    private readonly bool _opener;
    private readonly Func<TrunkStream, Task>? _accept;
    private readonly TaskGroup? _handlers;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<ControlFrame> _control = Channel.CreateUnbounded<ControlFrame>(new UnboundedChannelOptions
    {
        SingleReader = true,
        // The control writer, when idle, writes a posted frame at once on the poster's thread, as a direct write would.
        AllowSynchronousContinuations = true,
    });
    private readonly ConcurrentDictionary<uint, TrunkStream> _streams = new();
    private readonly CancellationTokenSource _closed = new();
    private int _lastId;
    private volatile bool _draining;
    private int _closing;
    private int _refusalsUnwritten;
    private TaskCompletionSource? _refusalsWritten;
    private long _lastActivity;

    /// <summary>
    /// How many refusals (<see cref="Refuse"/>) may wait to be written before the reader stops
    /// taking frames until half of them are: a peer that opens streams faster than their refusals
    /// can be written is slowed to that pace instead of queueing answers without end.
    /// </summary>
    public const int MaxRefusalsUnwritten = 64;

    /// <summary>How long the reader waits for refusals to be written; a peer that reads nothing for this long is closed.</summary>
    public static readonly TimeSpan RefusalWriteTimeout = TimeSpan.FromSeconds(10);

    /// <param name="transport">The connection, after its hello; the trunk owns it from here on.</param>
    /// <param name="opener">Whether this side opens streams; the other side accepts them.</param>
    /// <param name="accept">The acceptor's handler for each new stream (acceptor side only); it owns the stream. It runs on the reader loop until it first waits, as it does again each time a frame wakes it, so between waits it does only short work and never blocks. <see cref="RunAsync"/> ends only once every handler has.</param>
    /// <param name="acceptFailed">Told of each handler that ended with an exception, for the acceptor to log (acceptor side only).</param>
    public Trunk(Stream transport, bool opener, Func<TrunkStream, Task>? accept = null, Action<Exception>? acceptFailed = null)
    {
        _transport = transport;
        _opener = opener;
        _accept = accept;
        if (!opener)
        {
            ArgumentNullException.ThrowIfNull(accept);
            ArgumentNullException.ThrowIfNull(acceptFailed);
            _handlers = new TaskGroup(acceptFailed);
        }
    }

    /// <summary>Cancelled when the connection is gone; every stream on it is reset then.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>True while new streams may be opened here.</summary>
    public bool IsOpen => !_closed.IsCancellationRequested && !_draining;

    public int StreamCount => _streams.Count;

    /// <summary>
    /// A trunk with no streams that receives nothing for this long is closed (a peer that vanished
    /// without a word, or one nobody uses). Infinite (the default) keeps it open.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>True once the trunk was closed for being idle (<see cref="IdleTimeout"/>).</summary>
    public bool ClosedIdle { get; private set; }

    /// <summary>
    /// Opens a stream (opener side only). It gets its id, and opens on the other side, with its
    /// first frame: ids then reach the peer in increasing order however many streams open at once.
    /// </summary>
    public TrunkStream Open()
    {
        if (!_opener)
        {
            throw new InvalidOperationException("only the opening side of a trunk opens streams");
        }
        var stream = new TrunkStream(this);
        if (_closed.IsCancellationRequested)
        {
            stream.OnReset();
        }
        return stream;
    }

    /// <summary>No new streams; the connection closes once the last stream on it ends.</summary>
    public void Drain()
    {
        _draining = true;
        if (_streams.IsEmpty)
        {
            Close();
        }
    }


    internal void Remove(TrunkStream stream)
    {
        if (stream.Id == 0 || !_streams.TryRemove(new KeyValuePair<uint, TrunkStream>(stream.Id, stream)))
        {
            return;
        }
        // The idle timeout counts from the last stream's end, not from its last frame.
        Volatile.Write(ref _lastActivity, Time.GetTimestamp());
        if (_draining && _streams.IsEmpty)
        {
            Close();
        }
    }

    /// <summary>Resets every stream and stops the reader, which then closes the connection.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }
        _closed.Cancel();
        _control.Writer.TryComplete();
        foreach (var stream in _streams.Values)
        {
            stream.OnReset();
        }
        _streams.Clear();
    }

    /// <summary>A frame for the control writer: a reset, credit, or (type data) a refusal's answer followed by a reset.</summary>
    private readonly record struct ControlFrame(FrameType Type, uint Id, int Credit, ReadOnlyMemory<byte> Answer);

    internal enum FrameType : byte
    {
        Data = 1,
        Fin = 2,
        Reset = 3,
        Credit = 4,
    }
}