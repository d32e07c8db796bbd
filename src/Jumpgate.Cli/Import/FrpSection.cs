namespace Jumpgate.Cli.Import;

/// <summary>A setting as the file wrote it, with the line it is on, for notes and errors.</summary>
internal sealed record FrpValue(string Key, string Text, int Line);

/// <summary>
/// One part of an frp config (the common settings, a proxy, a visitor) with its settings under one
/// spelling for both formats: TOML's <c>localIP</c> and <c>transport.bandwidthLimit</c> and INI's
/// <c>local_ip</c> and <c>bandwidth_limit</c> are <c>localip</c> and <c>bandwidthlimit</c>.
/// </summary>
internal sealed class FrpSection(string name, int line)
{
    private readonly Dictionary<string, FrpValue> _values = new(StringComparer.Ordinal);

    public string Name { get; set; } = name;

    public int Line { get; } = line;

    public IEnumerable<FrpValue> Values => _values.Values;

    public void Set(string key, string text, int line) => _values[Canonical(key)] = new FrpValue(key, text, line);

    public FrpValue? Get(string canonical) => _values.GetValueOrDefault(canonical);

    /// <summary>Lower case without '_' and '.', and without TOML's <c>transport.</c> group, which INI does not have.</summary>
    public static string Canonical(string key)
    {
        var lower = key.ToLowerInvariant();
        if (lower.StartsWith("transport.", StringComparison.Ordinal))
        {
            lower = lower["transport.".Length..];
        }
        return lower.Replace("_", "", StringComparison.Ordinal).Replace(".", "", StringComparison.Ordinal);
    }
}
