using System.Globalization;
using System.Text;

namespace Jumpgate.Bench.Report;

/// <summary>The one markdown table a run prints, with the notes and the machine under it.</summary>
internal sealed class Table(Plan plan)
{
    private readonly List<Row> _rows = [];
    private readonly List<string> _notes = [];

    public bool Failed { get; private set; }

    public void Add(Row row) => _rows.Add(row);

    public void Note(string note) => _notes.Add(note);

    /// <summary>A figure that could not be measured: the row says why, and the run exits non-zero.</summary>
    public void Error(string figure, Exception e)
    {
        Failed = true;
        _rows.Add(new Row(figure, "(error)", e.Message.ReplaceLineEndings(" ").Replace("|", "\\|", StringComparison.Ordinal)));
    }

    /// <summary>
    /// Adds Jumpgate's row for one target: the ratio to the peer and whether it meets the target.
    /// A smoke run shows the ratio but judges nothing.
    /// </summary>
    public void Check(string figure, string result, double ratio, string peer, string target, bool atMost, double limit, string path = Peers.PathNames.Jumpgate)
    {
        var met = double.IsNaN(ratio) ? "?" : (atMost ? ratio <= limit : ratio >= limit) ? "yes" : "**no**";
        _rows.Add(new Row(figure, path, result, $"{F(ratio)} × {peer}", target, plan.JudgeTargets ? met : $"({met}; smoke)"));
    }

    /// <summary>Adds Jumpgate's row for an absolute target (milliseconds, KiB, seconds).</summary>
    public void CheckAbsolute(string figure, string result, double value, string ratio, string target, double limit)
    {
        var met = double.IsNaN(value) ? "?" : value <= limit ? "yes" : "**no**";
        _rows.Add(new Row(figure, Peers.PathNames.Jumpgate, result, ratio, target, plan.JudgeTargets ? met : $"({met}; smoke)"));
    }

    public static string F(double value) => double.IsNaN(value) ? "?"
        : Math.Abs(value) >= 100 ? value.ToString("0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 10 ? value.ToString("0.0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 0.1 ? value.ToString("0.00", CultureInfo.InvariantCulture)
        : value.ToString("0.000", CultureInfo.InvariantCulture);

    public string ToMarkdown(IEnumerable<string> header)
    {
        var text = new StringBuilder();
        foreach (var line in header)
        {
            text.AppendLine(line);
        }
        text.AppendLine();
        text.AppendLine("| figure | path | result | ratio (Jumpgate ÷ peer) | target | met |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var row in _rows)
        {
            text.AppendLine($"| {row.Figure} | {row.Path} | {row.Result} | {row.Ratio} | {row.Target} | {row.Met} |");
        }
        if (_notes.Count > 0)
        {
            text.AppendLine();
            foreach (var note in _notes)
            {
                text.AppendLine($"- {note}");
            }
        }
        return text.ToString();
    }
}
