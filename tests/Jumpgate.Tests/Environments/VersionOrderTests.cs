using Jumpgate.Cli.Environments;
using Xunit;

namespace Jumpgate.Tests.Environments;

public sealed class VersionOrderTests
{
    /// <summary>Pairs in conda's order (-1: left is older, 0: the same version).</summary>
    [Theory]
    [InlineData("1.9", "1.10", -1)]
    [InlineData("1.26.0", "1.26", 0)]
    [InlineData("1.26", "1.26.0.0", 0)]
    [InlineData("1.1a1", "1.1", -1)]
    // conda's own ordering example: 1.1dev1 < 1.1a1 < 1.1.0dev1 < 1.1.0rc1 < 1.1.0 < 1.1.0post1 < 1.1post1.
    [InlineData("1.1a1", "1.1.0dev1", -1)]
    [InlineData("1.1.0dev1", "1.1.0rc1", -1)]
    [InlineData("1.1.0rc1", "1.1.0", -1)]
    [InlineData("1.1.0post1", "1.1post1", -1)]
    [InlineData("0.9.6", "0.960923", -1)]
    [InlineData("1996.07.12", "1!0.4.1", -1)]
    [InlineData("1.1dev1", "1.1a1", -1)]
    [InlineData("1.1a1", "1.1b1", -1)]
    [InlineData("1.1b1", "1.1rc1", -1)]
    [InlineData("1.1", "1.1.post1", -1)]
    [InlineData("1.1post1", "1.2", -1)]
    [InlineData("2.0", "1!0.1", -1)]
    [InlineData("1.0", "1.0+1", -1)]
    [InlineData("1.0+cuda.2", "1.0+cuda.10", -1)]
    [InlineData("1.0_1", "1.0.1", 0)]
    [InlineData("2021.5.30", "2021.10.8", -1)]
    [InlineData("0.15.100", "0.15.99", 1)]
    [InlineData("2021A", "2021a", 0)]
    [InlineData("2021a", "2021b", -1)]
    public void OrdersCondaVersionsAsCondaDoes(string left, string right, int expected)
    {
        Assert.Equal(expected, Math.Sign(CondaVersion.Parse(left).CompareTo(CondaVersion.Parse(right))));
        Assert.Equal(-expected, Math.Sign(CondaVersion.Parse(right).CompareTo(CondaVersion.Parse(left))));
    }

    /// <summary>
    /// The order conda's <c>VersionOrder</c> documents, pair by pair, then its openssl note ("1.0.1 &lt; 1.0.1a
    /// =&gt; False", "1.0.1_ &lt; 1.0.1a =&gt; True"): a letter after a number is a pre-release to conda, so
    /// openssl 1.1.1k is older than 1.1.1 and conda-forge pins openssl as <c>&gt;=1.1.1k,&lt;1.1.2a</c>.
    /// </summary>
    [Theory]
    // The documentation lists 0.4 < 0.4.0, written when a missing component sorted lowest; since conda
    // fills it with 0 the two are equal, as its own tests and its 1.1.0 == 1.1 in the same list say.
    [InlineData("0.4", "0.4.0", 0)]
    [InlineData("0.4.0", "0.4.1.rc", -1)]
    [InlineData("0.4.1.rc", "0.4.1.RC", 0)]
    [InlineData("0.4.1.RC", "0.4.1", -1)]
    [InlineData("0.4.1", "0.5a1", -1)]
    [InlineData("0.5a1", "0.5b3", -1)]
    [InlineData("0.5b3", "0.5C1", -1)]
    [InlineData("0.5C1", "0.5", -1)]
    [InlineData("0.5", "0.9.6", -1)]
    [InlineData("0.960923", "1.0", -1)]
    [InlineData("1.0", "1.1dev1", -1)]
    [InlineData("1.1dev1", "1.1_", -1)]
    [InlineData("1.1_", "1.1a1", -1)]
    [InlineData("1.1.0dev1", "1.1.dev1", 0)]
    [InlineData("1.1.dev1", "1.1.a1", -1)]
    [InlineData("1.1.a1", "1.1.0rc1", -1)]
    [InlineData("1.1.0", "1.1", 0)]
    [InlineData("1.1", "1.1.0post1", -1)]
    [InlineData("1.1.0post1", "1.1.post1", 0)]
    [InlineData("1.1.post1", "1.1post1", -1)]
    [InlineData("1.1post1", "1996.07.12", -1)]
    [InlineData("1!0.4.1", "1!3.1.1.6", -1)]
    [InlineData("1!3.1.1.6", "2!0.4.1", -1)]
    [InlineData("1.0.1a", "1.0.1", -1)]
    [InlineData("1.0.1_", "1.0.1a", -1)]
    [InlineData("1.0.1dev", "1.0.1_", -1)]
    [InlineData("1.0.1s", "1.0.1", -1)]
    [InlineData("1.0.1rc1", "1.0.1s", -1)]
    [InlineData("1.0.1", "1.0.1post.a", -1)]
    [InlineData("1.1.1k", "1.1.1", -1)]
    [InlineData("1.1.1w", "1.1.2a", -1)]
    [InlineData("0.5-5", "0.5_5", 0)]
    public void OrdersAsCondasDocumentationSays(string left, string right, int expected) =>
        OrdersCondaVersionsAsCondaDoes(left, right, expected);

    [Theory]
    [InlineData("1_0-1")]
    [InlineData("1..0")]
    [InlineData("+1")]
    [InlineData("1!2!3")]
    public void RejectsWhatCondaRejects(string text) => Assert.False(CondaVersion.TryParse(text, out _));

    /// <summary>conda's <c>=1.26</c> and <c>1.26.*</c> ask whether a version starts with another (cases from conda's own tests).</summary>
    [Theory]
    [InlineData("0.4.1", "0", true)]
    [InlineData("0.4.1", "0.4", true)]
    [InlineData("0.4.1p1", "0.4.1p", true)]
    [InlineData("0.4.1p1", "0.4.1q1", false)]
    [InlineData("0.4", "0.4.1", false)]
    [InlineData("0.4.1+1.3", "0.4.1", true)]
    [InlineData("0.4.1+1.3", "0.4.1+1", true)]
    [InlineData("0.4.1", "0.4.1+1.3", false)]
    [InlineData("0.4.1+1", "0.4.1+1.3", false)]
    [InlineData("1.260", "1.26", false)]
    public void StartsWithAsCondaDoes(string version, string prefix, bool expected) =>
        Assert.Equal(expected, CondaVersion.Parse(version).StartsWith(CondaVersion.Parse(prefix)));

    [Theory]
    [InlineData("1.9", "1.10", -1)]
    [InlineData("1.26.0", "1.26", 0)]
    [InlineData("1.0.dev1", "1.0a1", -1)]
    [InlineData("1.0a1", "1.0a2.dev1", -1)]
    [InlineData("1.0a2.dev1", "1.0a2", -1)]
    [InlineData("1.0a2", "1.0b1", -1)]
    [InlineData("1.0b1", "1.0rc1", -1)]
    [InlineData("1.0rc1", "1.0", -1)]
    [InlineData("1.0", "1.0.post1.dev1", -1)]
    [InlineData("1.0.post1.dev1", "1.0.post1", -1)]
    [InlineData("1.0.post1", "1.1.dev1", -1)]
    [InlineData("1.0", "1.0+local", -1)]
    [InlineData("1.0+abc.5", "1.0+abc.10", -1)]
    [InlineData("1.0+abc", "1.0+5", -1)]
    [InlineData("1.0+local", "1.0.post1", -1)]
    [InlineData("2.0", "1!1.0", -1)]
    [InlineData("1.0RC1", "1.0rc1", 0)]
    [InlineData("1.0-alpha.1", "1.0a1", 0)]
    [InlineData("1.0-1", "1.0.post1", 0)]
    [InlineData("v1.0", "1.0", 0)]
    [InlineData("1.0c1", "1.0rc1", 0)]
    public void OrdersPythonVersionsAsPep440Does(string left, string right, int expected)
    {
        Assert.Equal(expected, Math.Sign(Pep440Version.Parse(left).CompareTo(Pep440Version.Parse(right))));
        Assert.Equal(-expected, Math.Sign(Pep440Version.Parse(right).CompareTo(Pep440Version.Parse(left))));
        if (expected == 0)
        {
            Assert.Equal(Pep440Version.Parse(left).GetHashCode(), Pep440Version.Parse(right).GetHashCode());
        }
    }

    [Theory]
    [InlineData("numpy=1.26", "1.26.4", true)]
    [InlineData("numpy=1.26", "1.26", true)]
    [InlineData("numpy=1.26", "1.260", false)]
    [InlineData("numpy=1.26", "1.27.0", false)]
    [InlineData("numpy==1.26", "1.26.0", true)]
    [InlineData("numpy==1.26", "1.26.4", false)]
    [InlineData("python>=3.10,<3.12", "3.11.7", true)]
    [InlineData("python>=3.10,<3.12", "3.12.0", false)]
    [InlineData("python>=3.10,<3.12", "3.9.18", false)]
    [InlineData("python>=3.10,<3.12", "3.12.0rc1", true)]
    [InlineData("python 3.11.*", "3.11.7", true)]
    [InlineData("python 3.11.7", "3.11.7", true)]
    [InlineData("python 3.11", "3.11.7", false)]
    [InlineData("openssl>=1.1.1k", "1.1.1l", true)]
    [InlineData("openssl>=1.1.1", "1.1.1k", false)]
    [InlineData("openssl>=1.1.1_", "1.1.1k", true)]
    [InlineData("openssl>=1.1.1k,<1.1.2a", "1.1.1w", true)]
    [InlineData("tzdata>=2021a", "2021b", true)]
    [InlineData("numpy <1.20|>=1.26", "1.19.5", true)]
    [InlineData("numpy <1.20|>=1.26", "1.21.0", false)]
    [InlineData("numpy !=1.26.*", "1.26.3", false)]
    [InlineData("numpy ~=1.26.0", "1.26.9", true)]
    [InlineData("numpy ~=1.26.0", "1.27.0", false)]
    [InlineData("numpy[version='>=1.26']", "1.26.4", true)]
    [InlineData("pytorch::pytorch", "2.1.0", true)]
    public void CondaConstraintsMatchInstalledVersions(string spec, string installed, bool matches)
    {
        var parsed = MatchSpec.TryParse(spec, out var error);
        Assert.True(parsed is not null, error);
        Assert.Equal(matches, parsed.Matches(installed, build: "py311h64a7726_0"));
    }

    [Theory]
    [InlineData("numpy=1.26.4=py311h64a7726_0", "py311h64a7726_0", true)]
    [InlineData("numpy=1.26.4=py311*", "py311h64a7726_0", true)]
    [InlineData("numpy=1.26.4=py310*", "py311h64a7726_0", false)]
    [InlineData("numpy 1.26.4 py311*", "py311h64a7726_0", true)]
    [InlineData("numpy[build=py310*]", "py311h64a7726_0", false)]
    public void BuildStringsAreGlobs(string spec, string build, bool matches) =>
        Assert.Equal(matches, MatchSpec.TryParse(spec, out _)!.Matches("1.26.4", build));

    [Theory]
    [InlineData("==2.2.0", "2.2", true)]
    [InlineData("==2.2.0", "2.2.0+cu121", true)]
    [InlineData("==2.2.0+cu121", "2.2.0", false)]
    [InlineData("==2.2.*", "2.2.7", true)]
    [InlineData("==2.2.*", "2.3.0", false)]
    [InlineData("!=2.2.*", "2.3.0", true)]
    [InlineData(">=0.7.5", "0.7.5", true)]
    [InlineData(">=0.7.5", "0.7.5rc1", false)]
    [InlineData("~=1.4.2", "1.4.9", true)]
    [InlineData("~=1.4.2", "1.5.0", false)]
    [InlineData("~=1.4", "1.9", true)]
    [InlineData("<2.0", "2.0rc1", false)]
    [InlineData("<2.0", "1.9", true)]
    [InlineData("<2.0rc2", "2.0rc1", true)]
    [InlineData(">1.0", "1.0.post1", false)]
    [InlineData(">1.0", "1.0+local", false)]
    [InlineData(">1.0", "1.1", true)]
    [InlineData(">1.0.post1", "1.0.post2", true)]
    [InlineData(">=1.0,<2", "1.5", true)]
    [InlineData(">=1.0,<2", "2.1", false)]
    [InlineData("===1.0-beta", "1.0-beta", true)]
    public void PipSpecifiersMatchInstalledVersions(string specifier, string installed, bool matches)
    {
        var parsed = PipSpecifier.TryParse(specifier, out var error);
        Assert.True(parsed is not null, error);
        Assert.Equal(matches, parsed.Matches(Pep440Version.Parse(installed)));
    }

    [Theory]
    [InlineData("1..2")]
    [InlineData("")]
    [InlineData("1.0/2")]
    [InlineData("1!")]
    public void RefusesWhatIsNotACondaVersion(string text) => Assert.False(CondaVersion.TryParse(text, out _));

    [Theory]
    [InlineData("1.0.x")]
    [InlineData("one")]
    [InlineData("1.0+")]
    public void RefusesWhatIsNotAPep440Version(string text) => Assert.False(Pep440Version.TryParse(text, out _));
}
