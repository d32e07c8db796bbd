using Jumpgate.Core.Naming;
using Xunit;

namespace Jumpgate.Tests.Naming;

public sealed class NamesTests
{
    [Theory]
    [InlineData("node1")]
    [InlineData("lab-pc")]
    [InlineData("a")]
    [InlineData("1")]
    [InlineData("gpu-node-1")]
    [InlineData("0a-b1")]
    public void AcceptsASingleDnsLabel(string name)
    {
        Assert.True(Names.IsValid(name));
    }

    [Fact]
    public void AcceptsSixtyThreeCharacters()
    {
        Assert.True(Names.IsValid(new string('a', 63)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Node1")]
    [InlineData("NODE")]
    [InlineData("-a")]
    [InlineData("a-")]
    [InlineData("-")]
    [InlineData("a--b")]
    [InlineData("a.b")]
    [InlineData("a_b")]
    [InlineData("a b")]
    [InlineData(" a")]
    [InlineData("a/b")]
    [InlineData("a:22")]
    [InlineData("*")]
    [InlineData("nöde")]
    [InlineData("node\u0661")] // an Arabic-Indic digit: a digit, but not an ASCII one
    public void RefusesAnythingElse(string? name)
    {
        Assert.False(Names.IsValid(name));
    }

    [Fact]
    public void RefusesSixtyFourCharacters()
    {
        Assert.False(Names.IsValid(new string('a', 64)));
    }
}
