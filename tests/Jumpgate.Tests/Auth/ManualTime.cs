namespace Jumpgate.Tests.Auth;

/// <summary>A clock that moves only when a test moves it.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks;
    private DateTimeOffset _utc = new(2025, 11, 23, 10, 0, 0, TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public override DateTimeOffset GetUtcNow() => _utc;

    public void Advance(TimeSpan by)
    {
        _ticks += by.Ticks;
        _utc += by;
    }
}
