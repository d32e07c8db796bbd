namespace Jumpgate.Cli.Import;

/// <summary>
/// The INI dialect of frp's older config files: <c>[section]</c> lines, <c>key = value</c> lines,
/// <c>#</c> and <c>;</c> comment lines. Values are taken as written (no quotes, no escapes), as frp does.
/// </summary>
internal static class IniReader
{
    public static List<FrpSection> Read(string path, string text)
    {
        var sections = new List<FrpSection>();
        FrpSection? current = null;
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            var number = i + 1;
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }
            if (line[0] == '[')
            {
                if (line[^1] != ']' || line.Length < 3)
                {
                    throw new Client.CliException($"{path}:{number}: '{line}' is not a section header such as [ssh]");
                }
                current = new FrpSection(line[1..^1].Trim(), number);
                sections.Add(current);
                continue;
            }
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new Client.CliException($"{path}:{number}: expected `key = value`, found '{line}'");
            }
            if (current is null)
            {
                throw new Client.CliException($"{path}:{number}: {line[..equals].Trim()}: a setting before any [section]; frpc.ini starts with [common]");
            }
            current.Set(line[..equals].Trim(), line[(equals + 1)..].Trim(), number);
        }
        return sections;
    }
}
