namespace Jumpgate.Bench.Report;

/// <summary>One line of the table: a figure measured on one path, and for Jumpgate the check against its target.</summary>
internal sealed record Row(string Figure, string Path, string Result, string Ratio = "", string Target = "", string Met = "");
