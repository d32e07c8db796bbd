using Jumpgate.Agent.Configuration;
using Jumpgate.Agent.Health;
using Xunit;

namespace Jumpgate.Tests.Agent;

/// <summary>A service's verdict from its checks in a row: only a run of failures turns it unhealthy, only a run of passes turns it back.</summary>
public sealed class ServiceHealthTests
{
    private static readonly HealthCheck Check = new() { UnhealthyAfter = 3, HealthyAfter = 2 };

    [Fact]
    public void StartsHealthyAndTurnsUnhealthyOnlyAfterFailuresInARow()
    {
        var health = new ServiceHealth("node1", "echo", Check);

        Assert.True(health.Healthy);
        Assert.Null(health.Record("refused"));
        Assert.Null(health.Record("refused"));
        Assert.Null(health.Record(null));
        Assert.Null(health.Record("refused"));
        Assert.Null(health.Record("refused"));
        Assert.Equal(new HealthReport("node1", "echo", false, "timed out"), health.Record("timed out"));
        Assert.Null(health.Record("refused"));
        Assert.False(health.Healthy);
    }

    [Fact]
    public void TurnsHealthyAgainAfterPassesInARowAndKeepsTheLastFailure()
    {
        var health = new ServiceHealth("node1", "echo", Check with { UnhealthyAfter = 1 });
        health.Record("refused");

        Assert.Null(health.Record(null));
        Assert.Null(health.Record("refused again"));
        Assert.Null(health.Record(null));
        Assert.Equal(new HealthReport("node1", "echo", true, "refused again"), health.Record(null));
        Assert.True(health.Healthy);
    }
}
