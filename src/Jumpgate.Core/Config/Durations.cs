using System.Globalization;

namespace Jumpgate.Core.Config;

/// <summary>Durations as people write them: 500ms, 5s, 2m, 1h, 7d.</summary>
internal static class Durations
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim();
        var unitStart = text.Length;
        while (unitStart > 0 && char.IsAsciiLetter(text[unitStart - 1]))
        {
            unitStart--;
        }
        if (!double.TryParse(text.AsSpan(0, unitStart), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) || number < 0)
        {
            return false;
        }
        double? milliseconds = text[unitStart..] switch
        {
            "ms" => number,
            "s" => number * 1e3,
            "m" => number * 60e3,
            "h" => number * 3600e3,
            "d" => number * 86400e3,
            _ => null,
        };
        if (milliseconds is not { } ms || !double.IsFinite(ms) || ms > TimeSpan.MaxValue.TotalMilliseconds)
        {
            return false;
        }
        value = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>A short human form: 12 s, 3 min, 2 h.</summary>
    public static string Humanize(TimeSpan span) => span.TotalSeconds switch
    {
        < 1 => $"{span.TotalMilliseconds:0} ms",
        < 120 => $"{span.TotalSeconds:0} s",
        < 7200 => $"{span.TotalMinutes:0} min",
        < 172800 => $"{span.TotalHours:0} h",
        _ => $"{span.TotalDays:0} d",
    };
}
