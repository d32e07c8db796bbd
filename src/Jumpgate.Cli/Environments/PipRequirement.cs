using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// One line of environment.yml's <c>pip:</c> list, as pip reads a requirements file: a PEP 508 requirement
/// (<c>ray[default,tune]==2.2.0</c>, <c>test-tube&gt;=0.7.5</c>, <c>robosuite @ https://…</c>), an editable
/// install (<c>-e git+https://…#egg=clip</c>, <c>-e .</c>) or a pip option (<c>--extra-index-url …</c>).
/// Only named requirements can be checked against what is installed; the others are passed to pip as written.
/// </summary>
internal sealed partial record PipRequirement
{
    public required string Text { get; init; }

    /// <summary>The name normalised as PEP 503 does (lower-case, runs of -_. as -), or null when the line names no package.</summary>
    public string? Name { get; init; }

    public IReadOnlyList<string> Extras { get; init; } = [];

    /// <summary>The version constraint, or null for any version (also for a URL or editable install).</summary>
    public PipSpecifier? Specifier { get; init; }

    /// <summary>Installed from a URL or a path (<c>name @ url</c>, <c>-e …</c>): present or not, its version says nothing.</summary>
    public bool Direct { get; init; }

    public static PipRequirement? TryParse(string text, out string error)
    {
        error = "";
        var line = text.Trim();
        if (line.StartsWith("-e ", StringComparison.Ordinal) || line.StartsWith("--editable", StringComparison.Ordinal))
        {
            var egg = Egg().Match(line);
            return new PipRequirement { Text = line, Name = egg.Success ? Normalize(egg.Groups["name"].Value) : null, Direct = true };
        }
        if (line.StartsWith('-'))
        {
            return new PipRequirement { Text = line };
        }
        // An environment marker (; python_version < "3.9") is pip's business; the name and version come before it.
        var semicolon = line.IndexOf(';', StringComparison.Ordinal);
        var requirement = (semicolon >= 0 ? line[..semicolon] : line).Trim();
        var match = Requirement().Match(requirement);
        if (!match.Success)
        {
            error = $"'{line}' is not a pip requirement (e.g. numpy==1.26.4, ray[tune]>=2.2, name @ https://…)";
            return null;
        }
        var extras = match.Groups["extras"].Success
            ? match.Groups["extras"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Normalize).ToList()
            : [];
        var name = Normalize(match.Groups["name"].Value);
        if (match.Groups["url"].Success)
        {
            return new PipRequirement { Text = line, Name = name, Extras = extras, Direct = true };
        }
        var constraint = match.Groups["spec"].Value.Trim().TrimStart('(').TrimEnd(')').Trim();
        if (constraint.Length == 0)
        {
            return new PipRequirement { Text = line, Name = name, Extras = extras };
        }
        var specifier = PipSpecifier.TryParse(constraint, out error);
        return specifier is null ? null : new PipRequirement { Text = line, Name = name, Extras = extras, Specifier = specifier };
    }

    public static string Normalize(string name) => Separators().Replace(name, "-").ToLowerInvariant();

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[(?<extras>[^\]]*)\])?\s*(?:@\s*(?<url>\S+)|(?<spec>.*))$")]
    private static partial Regex Requirement();

    [GeneratedRegex(@"[#&]egg=(?<name>[A-Za-z0-9._-]+)")]
    private static partial Regex Egg();

    [GeneratedRegex(@"[-_.]+")]
    private static partial Regex Separators();
}
