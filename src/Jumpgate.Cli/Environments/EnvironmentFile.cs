using System.Text.RegularExpressions;
using Jumpgate.Core.Config;
using YamlDotNet.RepresentationModel;

namespace Jumpgate.Cli.Environments;

/// <summary>What an environment.yml asks for: the environment's name, its channels, conda packages and pip requirements.</summary>
internal sealed record EnvironmentSpec
{
    /// <summary>The file it was read from, as given: `env sync` sends its text to the hosts.</summary>
    public required string Path { get; init; }

    /// <summary>The file's text, sent as it is so conda reads exactly what the user wrote.</summary>
    public required string Source { get; init; }

    /// <summary>The conda environment's name; null when the file gives none (a pip-only spec for --python).</summary>
    public string? Name { get; init; }

    public IReadOnlyList<string> Channels { get; init; } = [];

    public IReadOnlyList<MatchSpec> Conda { get; init; } = [];

    public IReadOnlyList<PipRequirement> Pip { get; init; } = [];

    /// <summary>
    /// Nothing but pip packages (python and pip themselves aside): a venv or a system Python can hold it,
    /// and `env sync` installs it with pip where the host has no conda.
    /// </summary>
    public bool PipOnly => Conda.All(c => c.Name is "python" or "pip");
}

/// <summary>
/// Reads environment.yml as conda does, with the project's YAML reader: every mistake (an unknown key, a
/// dependency that is neither a package nor a <c>pip:</c> list, a constraint that does not parse) with
/// file, line and field, all at once.
/// </summary>
internal static partial class EnvironmentFile
{
    public static EnvironmentSpec Load(string path)
    {
        var file = YamlFile.Load(path);
        return Read(file, File.ReadAllText(path));
    }

    public static EnvironmentSpec Parse(string path, string text) => Read(YamlFile.FromText(path, text), text);

    private static EnvironmentSpec Read(YamlFile file, string text)
    {
        var root = file.Root;
        // prefix and variables are what `conda env export` writes besides the rest; conda reads them, so they pass.
        file.RejectUnknown(root, "", "name", "channels", "dependencies", "prefix", "variables");
        var name = file.String(root, "name", "name");
        if (name is not null && !EnvironmentName().IsMatch(name))
        {
            file.Error(YamlFile.Get(root, "name"), "name", "expected letters, digits, dot, dash or underscore (conda refuses / : # and spaces)");
        }
        var channels = YamlFile.Get(root, "channels") is null ? [] : file.Strings(root, "channels", "channels").Select(c => c.Value).ToList();
        var conda = new List<MatchSpec>();
        var pip = new List<PipRequirement>();
        var dependencies = YamlFile.Get(root, "dependencies");
        if (dependencies is null)
        {
            file.Error(root, "dependencies", "is required (a list of packages such as numpy=1.26, and optionally a pip: list)");
        }
        else if (dependencies is not YamlSequenceNode list)
        {
            file.Error(dependencies, "dependencies", "expected a list of packages such as numpy=1.26, and optionally a pip: list");
        }
        else
        {
            for (var i = 0; i < list.Children.Count; i++)
            {
                ReadDependency(file, list.Children[i], $"dependencies[{i}]", conda, pip);
            }
        }
        file.ThrowIfErrors();
        return new EnvironmentSpec { Path = file.Path, Source = text, Name = name, Channels = channels, Conda = conda, Pip = pip };
    }

    private static void ReadDependency(YamlFile file, YamlNode item, string field, List<MatchSpec> conda, List<PipRequirement> pip)
    {
        switch (item)
        {
            case YamlScalarNode { Value: { Length: > 0 } text }:
                if (MatchSpec.TryParse(text, out var error) is { } spec)
                {
                    conda.Add(spec);
                }
                else
                {
                    file.Error(item, field, error);
                }
                break;
            case YamlMappingNode mapping when mapping.Children.Count == 1 && YamlFile.Get(mapping, "pip") is { } pipNode:
                if (pipNode is not YamlSequenceNode pipList)
                {
                    file.Error(pipNode, field + ".pip", "expected a list of pip requirements (numpy==1.26.4, ray[tune]>=2.2)");
                    break;
                }
                for (var j = 0; j < pipList.Children.Count; j++)
                {
                    var line = pipList.Children[j];
                    var pipField = $"{field}.pip[{j}]";
                    if (line is not YamlScalarNode { Value: { Length: > 0 } requirement })
                    {
                        file.Error(line, pipField, "expected a pip requirement as text");
                    }
                    else if (PipRequirement.TryParse(requirement, out var pipError) is { } parsed)
                    {
                        pip.Add(parsed);
                    }
                    else
                    {
                        file.Error(line, pipField, pipError);
                    }
                }
                break;
            case YamlMappingNode mapping:
                file.Error(item, field, $"expected a package (numpy=1.26) or a pip: list, not a mapping of {string.Join(", ", mapping.Children.Keys)}");
                break;
            default:
                file.Error(item, field, "expected a package (numpy=1.26) or a pip: list");
                break;
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]+$")]
    private static partial Regex EnvironmentName();
}
