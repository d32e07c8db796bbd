using System.Diagnostics;
using Jumpgate.Core.Naming;
using Jumpgate.TestSupport;
using Xunit;

namespace Jumpgate.Tests.Naming;

public sealed class HostPatternsTests
{
    [Theory]
    [InlineData("node*,lab-pc", "node1", true)]
    [InlineData("node*,lab-pc", "node", true)]
    [InlineData("node*,lab-pc", "node-gpu-17", true)]
    [InlineData("node*,lab-pc", "lab-pc", true)]
    [InlineData("node*,lab-pc", "lab-pc2", false)]
    [InlineData("node*,lab-pc", "gpu1", false)]
    [InlineData("node*,lab-pc", "my-node1", false)]
    [InlineData("node?", "node1", true)]
    [InlineData("node?", "node", false)]
    [InlineData("node?", "node12", false)]
    [InlineData("n?de-?", "node-1", true)]
    [InlineData("??", "ab", true)]
    [InlineData("??", "a", false)]
    [InlineData("*", "anything-at-all", true)]
    [InlineData("*-gpu-*", "lab-gpu-3", true)]
    [InlineData("*-gpu-*", "lab-gpu", false)]
    [InlineData("*1", "node1", true)]
    [InlineData("*1", "node12", false)]
    [InlineData("a*b*c", "aXbXc", true)]
    [InlineData("a*b*c", "aXbXd", false)]
    [InlineData("a*b*c", "abbbc", true)]
    [InlineData("a*b*c", "acb", false)]
    [InlineData(" node1 , lab-pc ", "lab-pc", true)]
    [InlineData("node1,,lab-pc", "node1", true)]
    public void AllowsWhatTheGlobsMatch(string patterns, string host, bool allowed)
    {
        Assert.Equal(allowed, HostPatterns.Parse(patterns).Allows(host));
    }

    [Fact]
    public void KeepsThePatternsAsWritten()
    {
        var patterns = HostPatterns.Parse(" node* , lab-pc ");

        Assert.Equal(["node*", "lab-pc"], patterns.Patterns);
        Assert.Equal("node*,lab-pc", patterns.ToString());
        Assert.Equal(patterns, HostPatterns.Parse(patterns.ToString()));
        Assert.Equal(patterns.GetHashCode(), HostPatterns.Parse(patterns.ToString()).GetHashCode());
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(",,")]
    [InlineData("Node*")]
    [InlineData("node.*")]
    [InlineData("node_1")]
    [InlineData("node[0-9]")]
    [InlineData("node*,lab pc")]
    [InlineData("node/1")]
    public void RefusesPatternsThatNoHostNameCouldNeed(string text)
    {
        var error = Assert.Throws<FormatException>(() => HostPatterns.Parse(text));
        Assert.Contains("pattern", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task APathologicalPatternReturnsQuickly()
    {
        var patterns = HostPatterns.Parse("*a*a*a*a*a*a*a*a*a*b");
        var text = new string('a', 20_000);

        var stopwatch = Stopwatch.StartNew();
        var allowed = await Task.Run(() => patterns.Allows(text)).WaitAsync(Signals.Timeout(10));

        Assert.False(allowed);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"took {stopwatch.Elapsed}");
    }
}
