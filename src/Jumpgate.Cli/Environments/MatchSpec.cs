using System.IO.Enumeration;
using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// A conda dependency as environment.yml writes it (conda's match spec): <c>numpy</c>, <c>numpy=1.26</c>
/// (1.26.*), <c>numpy==1.26.4</c>, <c>python&gt;=3.10,&lt;3.12</c>, <c>pytorch::pytorch</c>,
/// <c>numpy=1.26.4=py311h_0</c> (with a build string, * allowed), <c>numpy 1.26.* py311*</c>, and the bracket
/// form <c>numpy[version='&gt;=1.26', build=py311*]</c>.
/// </summary>
internal sealed partial record MatchSpec
{
    public required string Text { get; init; }

    /// <summary>The package name, lower-case as conda stores it.</summary>
    public required string Name { get; init; }

    /// <summary>The channel before <c>::</c> (it may carry a subdir, <c>conda-forge/linux-64</c>), or null.</summary>
    public string? Channel { get; init; }

    public CondaVersionSpec? Version { get; init; }

    /// <summary>A glob on the build string (<c>py311*</c>), or null for any build.</summary>
    public string? Build { get; init; }

    public static MatchSpec? TryParse(string text, out string error)
    {
        error = "";
        var rest = text.Trim();
        string? channel = null;
        var colons = rest.IndexOf("::", StringComparison.Ordinal);
        if (colons >= 0)
        {
            channel = rest[..colons];
            rest = rest[(colons + 2)..];
            if (channel.Length == 0)
            {
                error = "nothing before :: (expected channel::package)";
                return null;
            }
        }
        string? version = null, build = null;
        var bracket = Bracketed().Match(rest);
        if (bracket.Success)
        {
            rest = bracket.Groups["head"].Value;
            foreach (Match pair in BracketPair().Matches(bracket.Groups["pairs"].Value))
            {
                var value = pair.Groups["value"].Value.Trim('\'', '"');
                switch (pair.Groups["key"].Value)
                {
                    case "version": version = value; break;
                    case "build": build = value; break;
                    case "channel": channel = value; break;
                    default:
                        error = $"unknown key {pair.Groups["key"].Value} in [ ] (known: version, build, channel)";
                        return null;
                }
            }
        }
        var name = NameAtStart().Match(rest);
        if (!name.Success)
        {
            error = $"'{text}' does not start with a package name";
            return null;
        }
        var tail = rest[name.Length..].Trim();
        if (tail.Length > 0)
        {
            if (char.IsWhiteSpace(rest[name.Length]))
            {
                // The space form: name version [build].
                var words = tail.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length > 2)
                {
                    error = $"'{text}' has more than name, version and build";
                    return null;
                }
                version = words[0];
                build = words.Length > 1 ? words[1] : build;
            }
            else if (tail.StartsWith('=') && !tail.StartsWith("==", StringComparison.Ordinal))
            {
                // name=version[=build]: a single = means "starts with" (numpy=1.26 takes 1.26.4).
                var parts = tail[1..].Split('=');
                if (parts.Length > 2 || parts[0].Length == 0)
                {
                    error = $"'{text}' is not name=version or name=version=build";
                    return null;
                }
                version = "=" + parts[0];
                build = parts.Length > 1 ? parts[1] : null;
            }
            else
            {
                version = tail;
            }
        }
        CondaVersionSpec? spec = null;
        if (version is not null)
        {
            spec = CondaVersionSpec.TryParse(version, out error);
            if (spec is null)
            {
                return null;
            }
        }
        if (build is not null && !BuildSyntax().IsMatch(build))
        {
            error = $"'{build}' is not a build string";
            return null;
        }
        return new MatchSpec { Text = text.Trim(), Name = name.Value.ToLowerInvariant(), Channel = channel, Version = spec, Build = build };
    }

    public bool Matches(string version, string? build) =>
        (Version is null || (CondaVersion.TryParse(version, out var v) && Version.Matches(v)))
        && (Build is null || (build is not null && FileSystemName.MatchesSimpleExpression(Build, build, ignoreCase: false)));

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-]*")]
    private static partial Regex NameAtStart();

    [GeneratedRegex(@"^(?<head>[^\[]+)\[(?<pairs>[^\]]*)\]$")]
    private static partial Regex Bracketed();

    [GeneratedRegex(@"(?<key>[a-z_]+)\s*=\s*(?<value>'[^']*'|""[^""]*""|[^,\s]+)")]
    private static partial Regex BracketPair();

    [GeneratedRegex(@"^[A-Za-z0-9_.*+]+$")]
    private static partial Regex BuildSyntax();
}
