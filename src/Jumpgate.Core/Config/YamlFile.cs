using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Core.Config;

/// <summary>
/// Reads a YAML file into nodes that remember their line, and collects every error with the
/// file, line and field it belongs to, so a config loader reports all problems at once.
/// </summary>
internal sealed class YamlFile
{
    private readonly List<ConfigError> _errors = [];

    private YamlFile(string path) => Path = path;

    public string Path { get; }

    public YamlMappingNode Root { get; private set; } = new();

    public IReadOnlyList<ConfigError> Errors => _errors;

    public static YamlFile Load(string path)
    {
        var file = new YamlFile(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError(path, 0, 0, "(file)", FileErrors.Describe(e, path))]);
        }
        return file.Parse(text);
    }

    public static YamlFile FromText(string path, string text) => new YamlFile(path).Parse(text);

    private YamlFile Parse(string text)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
            {
                throw new ConfigException([new ConfigError(Path, 1, 1, "(file)", "the file is empty")]);
            }
            if (stream.Documents[0].RootNode is not YamlMappingNode root)
            {
                var node = stream.Documents[0].RootNode;
                throw new ConfigException([new ConfigError(Path, Line(node), Column(node), "(file)", "expected a mapping of settings (key: value) at the top level")]);
            }
            Root = root;
        }
        catch (YamlException e)
        {
            throw new ConfigException([new ConfigError(Path, (int)e.Start.Line, (int)e.Start.Column, "(syntax)", FirstLine(e.Message))]);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet reports some unbalanced flow collections this way, without a position.
            throw new ConfigException([new ConfigError(Path, 0, 0, "(syntax)", "malformed YAML (an unclosed [ or {?)")]);
        }
        return this;
    }

    public void Error(YamlNode? node, string field, string message) =>
        _errors.Add(new ConfigError(Path, node is null ? 0 : Line(node), node is null ? 0 : Column(node), field, message));

    /// <summary>Throws with every collected error, if there are any.</summary>
    public void ThrowIfErrors()
    {
        if (_errors.Count > 0)
        {
            throw new ConfigException(_errors);
        }
    }

    /// <summary>Reports keys that no setting reads: a typo should not pass silently.</summary>
    public void RejectUnknown(YamlMappingNode mapping, string prefix, params string[] known)
    {
        foreach (var key in mapping.Children.Keys)
        {
            var name = (key as YamlScalarNode)?.Value ?? "?";
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                Error(key, Join(prefix, name), $"unknown setting (known: {string.Join(", ", known)})");
            }
        }
    }

    public static YamlNode? Get(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public string? String(YamlMappingNode mapping, string key, string field, bool required = false)
    {
        var node = Get(mapping, key);
        if (node is null)
        {
            if (required)
            {
                Error(mapping, field, "is required");
            }
            return null;
        }
        if (node is not YamlScalarNode scalar || string.IsNullOrWhiteSpace(scalar.Value))
        {
            Error(node, field, "expected a non-empty text value");
            return null;
        }
        return scalar.Value;
    }

    /// <summary>
    /// One text value or a list of them (<c>gateway: https://a</c> or <c>gateway: [https://a, https://b]</c>),
    /// each with its node and its field (<c>gateway[1]</c>) so an error names the item.
    /// </summary>
    public IReadOnlyList<(YamlNode Node, string Field, string Value)> Strings(YamlMappingNode mapping, string key, string field, bool required = false)
    {
        var node = Get(mapping, key);
        if (node is null)
        {
            if (required)
            {
                Error(mapping, field, "is required");
            }
            return [];
        }
        if (node is YamlScalarNode)
        {
            return String(mapping, key, field) is { } single ? [(node, field, single)] : [];
        }
        if (node is not YamlSequenceNode list || list.Children.Count == 0)
        {
            Error(node, field, "expected a text value or a non-empty list of them");
            return [];
        }
        var values = new List<(YamlNode, string, string)>();
        for (var i = 0; i < list.Children.Count; i++)
        {
            var item = list.Children[i];
            var itemField = $"{field}[{i}]";
            if (item is YamlScalarNode { Value: { } value } && !string.IsNullOrWhiteSpace(value))
            {
                values.Add((item, itemField, value));
            }
            else
            {
                Error(item, itemField, "expected a non-empty text value");
            }
        }
        return values;
    }

    public int? Int(YamlMappingNode mapping, string key, string field, int min, int max)
    {
        var node = Get(mapping, key);
        if (node is null)
        {
            return null;
        }
        if (node is YamlScalarNode scalar && int.TryParse(scalar.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }
        Error(node, field, $"expected a whole number from {min} to {max}");
        return null;
    }

    public bool? Bool(YamlMappingNode mapping, string key, string field)
    {
        var node = Get(mapping, key);
        if (node is null)
        {
            return null;
        }
        if (node is YamlScalarNode { Value: "true" or "false" } scalar)
        {
            return scalar.Value == "true";
        }
        Error(node, field, "expected true or false");
        return null;
    }

    /// <summary>A duration written as 500ms, 5s, 2m or 1h.</summary>
    public TimeSpan? Duration(YamlMappingNode mapping, string key, string field)
    {
        var node = Get(mapping, key);
        if (node is null)
        {
            return null;
        }
        if (node is YamlScalarNode { Value: { } text } && Durations.TryParse(text, out var value))
        {
            return value;
        }
        Error(node, field, "expected a duration such as 500ms, 5s, 2m or 1h");
        return null;
    }

    public YamlMappingNode? Mapping(YamlMappingNode mapping, string key, string field, bool required = false)
    {
        var node = Get(mapping, key);
        if (node is null)
        {
            if (required)
            {
                Error(mapping, field, "is required");
            }
            return null;
        }
        if (node is YamlMappingNode child)
        {
            return child;
        }
        Error(node, field, "expected a mapping (name: settings)");
        return null;
    }

    /// <summary>Resolves a path written in the file relative to the file's own folder.</summary>
    public string ResolvePath(string value) =>
        System.IO.Path.GetFullPath(value, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? ".");

    public static string Join(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";

    private static int Line(YamlNode node) => (int)node.Start.Line;

    private static int Column(YamlNode node) => (int)node.Start.Column;

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
