using Jumpgate.Core.Config;
using Xunit;

namespace Jumpgate.Tests.Config;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("5s", 5_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("7d", 604_800_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("0s", 0)]
    [InlineData("0.5ms", 0.5)]
    [InlineData(" 5s ", 5_000)]
    public void ReadsDurationsAsPeopleWriteThem(string text, double milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("s")]
    [InlineData("ms")]
    [InlineData("-1s")]
    [InlineData("+1s")]
    [InlineData("5 s")]
    [InlineData("5S")]
    [InlineData("5sec")]
    [InlineData("5us")]
    [InlineData("1e3s")]
    [InlineData("1,5s")]
    [InlineData("1.5.1s")]
    [InlineData("NaNs")]
    [InlineData("abc")]
    [InlineData("5s5")]
    public void RefusesAnythingElse(string text)
    {
        Assert.False(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.Zero, value);
    }

    [Theory]
    [InlineData(0.2, "200 ms")]
    [InlineData(12, "12 s")]
    [InlineData(180, "3 min")]
    [InlineData(7200, "2 h")]
    [InlineData(3 * 86400, "3 d")]
    public void HumanizesToAShortForm(double seconds, string expected)
    {
        Assert.Equal(expected, Durations.Humanize(TimeSpan.FromSeconds(seconds)));
    }

    [Theory]
    [InlineData("99999999d")]
    [InlineData("1e400s")]
    public void RefusesDurationsBeyondWhatATimeSpanHolds(string text)
    {
        Assert.False(Durations.TryParse(text, out _));
    }
}
