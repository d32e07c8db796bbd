using System.Threading.Channels;
using Jumpgate.Agent.Tunnel;
using Jumpgate.Core.Protocol;
using Xunit;

namespace Jumpgate.Tests.Agent;

/// <summary>
/// The reports of a direct session's streams reach the gateway in the order they were made,
/// whichever control connection carries them: posted while none is up, they wait and go first on
/// the next; a write that fails keeps them for the next connection too.
/// </summary>
public sealed class SessionReportsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>A control connection as the reports see it: each write's frames in order, or a failed write.</summary>
    private sealed class Connection(bool fails = false)
    {
        private readonly Channel<long> _written = Channel.CreateUnbounded<long>();
        private readonly Channel<long[]> _writes = Channel.CreateUnbounded<long[]>();

        public Task<bool> WriteAsync(IReadOnlyList<ControlMessage> messages)
        {
            if (fails)
            {
                return Task.FromResult(false);
            }
            foreach (var message in messages)
            {
                _written.Writer.TryWrite(message.Stream);
            }
            _writes.Writer.TryWrite([.. messages.Select(m => m.Stream)]);
            return Task.FromResult(true);
        }

        /// <summary>The streams of the reports in the next write, as one write carried them.</summary>
        public async Task<long[]> NextWriteAsync()
        {
            using var timeout = new CancellationTokenSource(Patience);
            return await _writes.Reader.ReadAsync(timeout.Token);
        }

        /// <summary>The streams of the next <paramref name="count"/> reports written.</summary>
        public async Task<long[]> ReadAsync(int count)
        {
            using var timeout = new CancellationTokenSource(Patience);
            var streams = new long[count];
            for (var i = 0; i < count; i++)
            {
                streams[i] = await _written.Reader.ReadAsync(timeout.Token);
            }
            return streams;
        }

        public bool WroteMore => _written.Reader.TryRead(out _);
    }

    private static ControlMessage Report(long stream, string outcome = "opened") =>
        new() { Type = ControlMessage.SessionStream, Session = "s1", Stream = stream, Outcome = outcome };

    [Fact]
    public async Task ReportsMadeWithNoConnectionGoFirstOnTheNextInOrderAndProgressIsNotKept()
    {
        var reports = new SessionReports();
        reports.Post(Report(1));
        reports.GatherIfUp(Report(2, "progress"));
        reports.Post(Report(3));
        var connection = new Connection();

        await reports.AttachAsync(connection.WriteAsync);
        reports.Post(Report(4));

        var written = await connection.ReadAsync(3);
        Assert.Equal([1, 3, 4], written);
        Assert.False(connection.WroteMore, "a progress report made with no connection up should be dropped, not kept");
    }

    [Fact]
    public async Task ManyReportsPostedAtOnceArriveInTheOrderTheyWerePosted()
    {
        var reports = new SessionReports();
        var connection = new Connection();
        await reports.AttachAsync(connection.WriteAsync);

        // From several threads at once, each in its own order: each thread's reports must keep theirs.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(thread => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                reports.Post(Report(thread * 1000 + i));
            }
        })));

        var written = await connection.ReadAsync(2000);
        foreach (var thread in Enumerable.Range(0, 4))
        {
            var mine = written.Where(s => s / 1000 == thread).ToArray();
            Assert.Equal(Enumerable.Range(0, 500).Select(i => (long)(thread * 1000 + i)), mine);
        }
    }

    [Fact]
    public async Task ReportsWhoseWriteFailedGoFirstOnTheNextConnection()
    {
        var reports = new SessionReports();
        var dying = new Connection(fails: true);
        await reports.AttachAsync(dying.WriteAsync);
        reports.Post(Report(1, "closed"));
        reports.Post(Report(2, "closed"));
        await reports.DetachAsync(dying.WriteAsync);

        var next = new Connection();
        await reports.AttachAsync(next.WriteAsync);
        reports.Post(Report(3));

        var written = await next.ReadAsync(3);
        Assert.Equal([1, 2, 3], written);
    }

    [Fact]
    public async Task RecordsWaitToBeGatheredAndARequestTheSessionWaitsOnTakesThemAtOnce()
    {
        // A window no test outlasts: only the urgent report can send the gathered ones.
        var reports = new SessionReports(TimeSpan.FromHours(1));
        var connection = new Connection();
        await reports.AttachAsync(connection.WriteAsync);

        reports.Gather(Report(1));
        reports.Gather(Report(2, "closed"));
        reports.GatherIfUp(Report(3, "progress"));
        reports.Post(Report(4, "wanted"));

        var written = await connection.NextWriteAsync();
        Assert.Equal([1, 2, 3, 4], written);
    }

    [Fact]
    public async Task GatheredRecordsGoWithinTheWindowWhenNothingHurriesThem()
    {
        var reports = new SessionReports(TimeSpan.FromSeconds(1));
        var connection = new Connection();
        await reports.AttachAsync(connection.WriteAsync);

        reports.Gather(Report(1));
        reports.Gather(Report(2, "closed"));

        // Both were posted long before the window ran out, so one write carries them.
        var written = await connection.NextWriteAsync();
        Assert.Equal([1, 2], written);
    }

    [Fact]
    public async Task ABusySessionsRecordsGoOnceEnoughAreGatheredWithoutWaitingOutTheWindow()
    {
        var reports = new SessionReports(TimeSpan.FromHours(1));
        var connection = new Connection();
        await reports.AttachAsync(connection.WriteAsync);

        for (var stream = 1; stream <= SessionReports.MaxGathered; stream++)
        {
            reports.Gather(Report(stream));
        }

        var written = await connection.ReadAsync(SessionReports.MaxGathered);
        Assert.Equal(Enumerable.Range(1, SessionReports.MaxGathered).Select(s => (long)s), written);
    }
}
