using System.Text;
using System.Text.Json;

namespace Jumpgate.Cli.Environments;

/// <summary>The drift report as people read it (packages down, hosts across) and as scripts read it (JSON).</summary>
internal static class DriftMatrix
{
    public static void Write(TextWriter output, DriftReport report)
    {
        var hosts = report.Hosts.Select(h => h.Host).ToList();
        var drifting = hosts.Count(report.HostDrifts);
        var notChecked = report.Hosts.Count(h => h.Status == HostStatus.Failed);
        output.WriteLine($"environment {report.Spec.Name ?? "(pip only)"} ({report.Spec.Path}) on {hosts.Count} host{(hosts.Count == 1 ? "" : "s")}: "
            + (drifting == 0 && notChecked == 0 ? "no drift" : string.Join(", ", new[] { drifting > 0 ? $"{drifting} drifting" : null, notChecked > 0 ? $"{notChecked} not checked" : null }.OfType<string>())));
        List<string[]> table = [["PACKAGE", .. hosts]];
        foreach (var row in report.Rows)
        {
            table.Add([row.Kind == "pip" ? "pip: " + row.Package : row.Kind == "extra" ? "+ " + row.Package : row.Package, .. hosts.Select(h => Text(row.Cells[h]))]);
        }
        var widths = Enumerable.Range(0, hosts.Count + 1).Select(i => table.Max(r => r[i].Length)).ToList();
        foreach (var line in table)
        {
            output.WriteLine(string.Join("  ", line.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }
        var width = hosts.Max(h => h.Length);
        foreach (var host in report.Hosts)
        {
            output.WriteLine($"{host.Host.PadRight(width)}  {Describe(host, report.Spec)}");
        }
    }

    public static string Text(Cell cell) => cell.State switch
    {
        CellState.Ok => "ok",
        CellState.Missing => "missing",
        CellState.WrongVersion => $"wrong: {cell.Installed}" + (cell.Note is null ? "" : $" ({cell.Note})"),
        CellState.Extra => $"extra: {cell.Installed}",
        CellState.Absent => "",
        _ => "-",
    };

    /// <summary>A host's own line: where its environment is, or why it has none, or why it could not be checked.</summary>
    public static string Describe(HostInventory host, EnvironmentSpec spec) => host.Status switch
    {
        HostStatus.Failed => $"could not check: {host.Reason}",
        HostStatus.NoConda => "no conda, mamba or micromamba on this host (PATH, ~/miniforge3, ~/miniconda3, ~/anaconda3, /opt/conda)",
        HostStatus.NoEnvironment => $"{host.Manager} ({host.ManagerPath}) has no environment {spec.Name}",
        _ when host.UsesConda => $"{host.Manager} environment {host.Prefix}" + (host.PipError is null ? "" : $"; pip: {host.PipError}"),
        _ => $"python {host.PythonVersion} ({host.PythonPath})" + (host.PipError is null ? "" : $"; pip: {host.PipError}"),
    };

    public static string Json(DriftReport report)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("environment", report.Spec.Name);
            json.WriteString("file", report.Spec.Path);
            json.WriteNumber("exit_code", report.ExitCode);
            json.WriteStartArray("hosts");
            foreach (var host in report.Hosts)
            {
                json.WriteStartObject();
                json.WriteString("host", host.Host);
                json.WriteString("status", host.Status switch
                {
                    HostStatus.Failed => "not_checked",
                    HostStatus.NoConda => "no_conda",
                    HostStatus.NoEnvironment => "no_environment",
                    _ => report.HostDrifts(host.Host) ? "drift" : "ok",
                });
                json.WriteString("reason", host.Reason);
                json.WriteString("manager", host.Manager);
                json.WriteString("manager_path", host.ManagerPath);
                json.WriteString("prefix", host.Prefix);
                json.WriteString("python", host.PythonVersion);
                json.WriteString("pip_error", host.PipError);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("packages");
            foreach (var row in report.Rows)
            {
                json.WriteStartObject();
                json.WriteString("package", row.Package);
                json.WriteString("kind", row.Kind);
                json.WriteString("name", row.Name);
                json.WriteStartObject("hosts");
                foreach (var (host, cell) in row.Cells)
                {
                    json.WriteStartObject(host);
                    json.WriteString("state", cell.State switch
                    {
                        CellState.Ok => "ok",
                        CellState.Missing => "missing",
                        CellState.WrongVersion => "wrong_version",
                        CellState.Extra => "extra",
                        CellState.Absent => "absent",
                        _ => "not_checked",
                    });
                    json.WriteString("installed", cell.Installed);
                    if (cell.Note is not null)
                    {
                        json.WriteString("note", cell.Note);
                    }
                    json.WriteEndObject();
                }
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
