using System.Text.RegularExpressions;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// A conda version constraint: terms joined by <c>,</c> (and) and <c>|</c> (or, binding looser), each an
/// operator (<c>== != &lt; &lt;= &gt; &gt;= ~= =</c>) and a version, where <c>=1.26</c> and <c>1.26.*</c>
/// mean "starts with 1.26" and a bare version means exactly it (<c>python&gt;=3.10,&lt;3.12</c>).
/// </summary>
internal sealed partial class CondaVersionSpec
{
    private readonly IReadOnlyList<IReadOnlyList<Term>> _alternatives;

    private CondaVersionSpec(string text, IReadOnlyList<IReadOnlyList<Term>> alternatives)
    {
        Text = text;
        _alternatives = alternatives;
    }

    public string Text { get; }

    private sealed record Term(string Operator, CondaVersion? Version, bool Prefix);

    /// <summary>Returns the spec, or null with the reason in <paramref name="error"/>.</summary>
    public static CondaVersionSpec? TryParse(string text, out string error)
    {
        error = "";
        var alternatives = new List<IReadOnlyList<Term>>();
        foreach (var alternative in text.Split('|'))
        {
            var terms = new List<Term>();
            foreach (var raw in alternative.Split(','))
            {
                var match = TermSyntax().Match(raw.Trim());
                if (!match.Success)
                {
                    error = $"'{raw.Trim()}' is not a version constraint (e.g. 1.26, =1.26, >=3.10,<3.12, 1.26.*)";
                    return null;
                }
                var op = match.Groups["op"].Value;
                var value = match.Groups["version"].Value;
                if (value == "*")
                {
                    terms.Add(new Term("*", null, false));
                    continue;
                }
                var prefix = op == "=" || value.EndsWith('*');
                value = value.TrimEnd('*').TrimEnd('.');
                if (prefix && op is not ("" or "=" or "==" or "!="))
                {
                    error = $"'{raw.Trim()}': a wildcard goes only with = == or !=";
                    return null;
                }
                if (!CondaVersion.TryParse(value, out var version))
                {
                    error = $"'{value}' is not a version";
                    return null;
                }
                terms.Add(new Term(op is "" or "=" ? "==" : op, version, prefix));
            }
            alternatives.Add(terms);
        }
        return new CondaVersionSpec(text, alternatives);
    }

    public bool Matches(CondaVersion version) => _alternatives.Any(terms => terms.All(term => Matches(term, version)));

    private static bool Matches(Term term, CondaVersion version)
    {
        if (term.Version is not { } wanted)
        {
            return true;
        }
        var order = version.CompareTo(wanted);
        return term.Operator switch
        {
            "==" => term.Prefix ? version.StartsWith(wanted) : order == 0,
            "!=" => term.Prefix ? !version.StartsWith(wanted) : order != 0,
            "<" => order < 0,
            "<=" => order <= 0,
            ">" => order > 0,
            ">=" => order >= 0,
            // ~=1.4.2 is >=1.4.2 and 1.4.*, as in PEP 440.
            "~=" => order >= 0 && version.StartsWith(CondaVersion.Parse(string.Join('.', wanted.Text.Split('.')[..^1]) is { Length: > 0 } p ? p : wanted.Text)),
            _ => false,
        };
    }

    public override string ToString() => Text;

    [GeneratedRegex(@"^(?<op>==|!=|<=|>=|~=|<|>|=)?\s*(?<version>[A-Za-z0-9_.+!*]+)$")]
    private static partial Regex TermSyntax();
}
