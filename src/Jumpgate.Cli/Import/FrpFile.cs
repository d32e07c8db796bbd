using System.Text.RegularExpressions;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Config;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Jumpgate.Cli.Import;

/// <summary>
/// An frpc or frps config in either of frp's formats: TOML (<c>[[proxies]]</c>, camelCase keys) or
/// the older INI (<c>[common]</c>, one section per proxy, snake_case keys), chosen by the extension.
/// TOML is read through Tomlyn's syntax tree, which keeps each value's line and needs no reflection
/// (the CLI is a Native AOT binary).
/// </summary>
internal sealed partial class FrpFile
{
    public required string Path { get; init; }

    public required FrpSection Common { get; init; }

    public List<FrpSection> Proxies { get; } = [];

    public List<FrpSection> Visitors { get; } = [];

    public bool IsIni => Path.EndsWith(".ini", StringComparison.OrdinalIgnoreCase);

    public static FrpFile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read {path}: {FileErrors.Describe(e, path)}");
        }
        return path.EndsWith(".ini", StringComparison.OrdinalIgnoreCase) ? FromIni(path, text) : FromToml(path, text);
    }

    private static FrpFile FromIni(string path, string text)
    {
        var sections = IniReader.Read(path, text);
        var file = new FrpFile { Path = path, Common = sections.Find(s => s.Name == "common") ?? new FrpSection("common", 0) };
        foreach (var section in sections.Where(s => s.Name != "common"))
        {
            (section.Get("role")?.Text == "visitor" ? file.Visitors : file.Proxies).Add(section);
        }
        return file;
    }

    private static FrpFile FromToml(string path, string text)
    {
        var document = SyntaxParser.Parse(text, path, true);
        if (document.HasErrors)
        {
            var errors = document.Diagnostics.Where(d => d.Kind == DiagnosticMessageKind.Error)
                .Select(d => $"{path}:{d.Span.Start.Line + 1}: {d.Message}");
            throw new CliException($"{path} is not valid TOML:\n  {string.Join("\n  ", errors)}");
        }
        var file = new FrpFile { Path = path, Common = new FrpSection("common", 1) };
        foreach (var item in document.KeyValues)
        {
            Add(file.Common, "", item);
        }
        FrpSection? last = null;
        foreach (var table in document.Tables)
        {
            var name = KeyText(table.Name);
            var line = table.Span.Start.Line + 1;
            (FrpSection Section, string Prefix) target;
            if (table is TableArraySyntax && name is "proxies" or "visitors")
            {
                last = new FrpSection("", line);
                (name == "proxies" ? file.Proxies : file.Visitors).Add(last);
                target = (last, "");
            }
            else if (last is not null && (name.StartsWith("proxies.", StringComparison.Ordinal) || name.StartsWith("visitors.", StringComparison.Ordinal)))
            {
                // [proxies.plugin] and the like belong to the [[proxies]] above them.
                target = (last, name[(name.IndexOf('.', StringComparison.Ordinal) + 1)..] + ".");
            }
            else
            {
                target = (file.Common, name + ".");
            }
            foreach (var item in table.Items)
            {
                Add(target.Section, target.Prefix, item);
            }
        }
        foreach (var section in file.Proxies.Concat(file.Visitors))
        {
            section.Name = section.Get("name")?.Text ?? "";
        }
        return file;
    }

    private static void Add(FrpSection section, string prefix, KeyValueSyntax item) =>
        section.Set(prefix + KeyText(item.Key), ValueText(item.Value), item.Span.Start.Line + 1);

    private static string KeyText(KeySyntax? key) => key is null ? "" : KeyNoise().Replace(key.ToString(), "");

    private static string ValueText(ValueSyntax? value) => value switch
    {
        StringValueSyntax s => s.Value ?? "",
        IntegerValueSyntax i => i.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        BooleanValueSyntax b => b.Value ? "true" : "false",
        ArraySyntax a => string.Join(",", a.Items.Select(item => ValueText(item.Value))),
        null => "",
        _ => value.ToString().Trim(),
    };

    /// <summary>Whitespace, quotes and comments around a key as the syntax tree prints it.</summary>
    [GeneratedRegex("""\s+|"|'|#.*""")]
    private static partial Regex KeyNoise();
}
