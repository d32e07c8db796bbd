using Jumpgate.Gateway.Store;
using Jumpgate.Tests.Auth;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit;

namespace Jumpgate.Tests.Store;

/// <summary>What the operator reads while the store's database is lost: a line when it goes, one a minute while it stays away, a line when it is back.</summary>
public sealed class StoreHealthTests
{
    [Fact]
    public void LogsTheLossOnceThenOnceAMinuteThenTheReturnWithHowManyWereRefused()
    {
        var time = new ManualTime();
        var log = new ListLogger();
        var health = new StoreHealth(time) { Logger = log };
        var failure = new NpgsqlException("Failed to connect to 127.0.0.1:5432");

        // 150 s of an outage with a failed question and a refused authentication every second.
        for (var second = 0; second < 150; second++)
        {
            health.Lost(failure);
            health.Refused();
            Assert.True(health.IsLost);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        health.Reached();
        health.Reached();

        Assert.Equal(["StoreLost", "StoreStillLost", "StoreStillLost", "StoreBack"], log.Events.Select(e => e.Name));
        Assert.Contains("out of reach for 60 s", log.Events[1].Message, StringComparison.Ordinal);
        Assert.Contains("back after 150 s; 150 authentications were refused", log.Events[3].Message, StringComparison.Ordinal);
        Assert.False(health.IsLost);
    }

    [Fact]
    public void ADatabaseThatFlapsGetsOneLineOfEachKindAMinute()
    {
        var time = new ManualTime();
        var log = new ListLogger();
        var health = new StoreHealth(time) { Logger = log };

        for (var flap = 0; flap < 10; flap++)
        {
            health.Lost(new NpgsqlException("Exception while reading from stream"));
            time.Advance(TimeSpan.FromMilliseconds(5));
            health.Reached();
        }
        time.Advance(TimeSpan.FromSeconds(61));
        health.Lost(new NpgsqlException("Exception while reading from stream"));

        Assert.Equal(["StoreLost", "StoreBack", "StoreLost"], log.Events.Select(e => e.Name));
        Assert.True(health.IsLost);
    }

    [Fact]
    public void EmptiesThePoolOnceWhenTheDatabaseIsLost()
    {
        var drops = 0;
        var health = new StoreHealth(new ManualTime(), () => drops++);

        health.Lost(new NpgsqlException("gone"));
        health.Lost(new NpgsqlException("still gone"));
        health.Reached();
        health.Lost(new NpgsqlException("gone again"));

        Assert.Equal(2, drops);
    }

    private sealed class ListLogger : ILogger
    {
        public List<(string? Name, string Message)> Events { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Events.Add((eventId.Name, formatter(state, exception)));
    }
}
