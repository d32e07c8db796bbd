using System.Text;
using System.Text.Json;

namespace Jumpgate.Cli.Environments;

/// <summary>What a host has: which conda (if any), whether the environment exists, and what is installed in it.</summary>
internal sealed record HostInventory
{
    public required string Host { get; init; }

    public required HostStatus Status { get; init; }

    /// <summary>Why the host could not be checked, in words.</summary>
    public string? Reason { get; init; }

    /// <summary>conda, mamba or micromamba, and where; null on a host checked with pip alone.</summary>
    public string? Manager { get; init; }

    public string? ManagerPath { get; init; }

    /// <summary>The environment's prefix, or the Python checked with pip alone.</summary>
    public string? Prefix { get; init; }

    public string? PythonPath { get; init; }

    public string? PythonVersion { get; init; }

    /// <summary>conda list's packages by name (pip-installed ones too, with channel pypi).</summary>
    public IReadOnlyDictionary<string, CondaPackage> Conda { get; init; } = new Dictionary<string, CondaPackage>();

    /// <summary>pip list's packages by normalised name; null when pip could not be asked.</summary>
    public IReadOnlyDictionary<string, string>? Pip { get; init; }

    public string? PipError { get; init; }

    public bool UsesConda => Manager is not null;
}

internal sealed record CondaPackage(string Name, string Version, string? Build, string? Channel);

internal enum HostStatus
{
    /// <summary>The environment was found and read.</summary>
    Checked,

    /// <summary>conda (or mamba, micromamba) is there, the environment is not.</summary>
    NoEnvironment,

    /// <summary>No conda, mamba or micromamba, and the spec needs conda: a fact about the host, not a failure.</summary>
    NoConda,

    /// <summary>ssh failed or the host's answer made no sense: nothing is known.</summary>
    Failed,
}

/// <summary>
/// One POSIX sh script per host, sent on ssh's stdin (<c>ssh HOST sh -s</c>: one connection, nothing of
/// it in any argv): it finds conda, mamba or micromamba (on the PATH, or where their installers put them,
/// since a non-interactive login does not run <c>conda init</c>'s lines), or the Python it is told to use,
/// and prints <c>conda env list --json</c>, <c>conda list --json</c> and <c>pip list --format=json</c>
/// between marker lines.
/// </summary>
internal static class HostProbe
{
    public const string Marker = "@@jumpgate:";

    /// <summary>How a host is to be read: the environment by name through conda, or a given Python.</summary>
    public sealed record Target(string? EnvironmentName, string? Python, bool PipOnly);

    public static string Script(Target target) => Variables(target) + """
        mark() { printf '\n%s%s\n' '@@jumpgate:' "$*"; }
        find_manager() {
          for m in conda mamba micromamba; do
            p=$(command -v "$m" 2>/dev/null) && [ -n "$p" ] && { kind=$m; manager=$p; return 0; }
          done
          for p in "$CONDA_EXE" "$MAMBA_EXE" "$HOME/miniforge3/bin/conda" "$HOME/mambaforge/bin/conda" \
                   "$HOME/miniconda3/bin/conda" "$HOME/anaconda3/bin/conda" /opt/conda/bin/conda \
                   /opt/miniforge3/bin/conda "$HOME/.local/bin/micromamba" "$HOME/bin/micromamba"; do
            [ -n "$p" ] && [ -x "$p" ] && { kind=$(basename "$p"); manager=$p; return 0; }
          done
          return 1
        }
        pip_list() {
          if ! version=$("$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>&1); then
            mark python-error "$1: $(printf '%s' "$version" | tail -n 1)"; return
          fi
          mark python "$version" "$1"
          if out=$("$1" -m pip list --format=json --disable-pip-version-check 2>&1); then
            mark pip-list; printf '%s\n' "$out"
          else
            mark pip-error "$(printf '%s' "$out" | tail -n 1)"
          fi
        }
        if [ -n "$python" ]; then
          pip_list "$python"
        elif find_manager; then
          mark manager "$kind" "$manager"
          envs=$("$manager" env list --json 2>&1) || { mark failed "$manager env list: $(printf '%s' "$envs" | tail -n 1)"; exit 0; }
          mark env-list; printf '%s\n' "$envs"
          paths=$(printf '%s' "$envs" | grep -o '"/[^"]*"' | tr -d '"')
          if [ "$name" = base ]; then
            prefix=$(printf '%s\n' "$paths" | grep -v '/envs/' | head -n 1)
          else
            prefix=$(printf '%s\n' "$paths" | grep -F "/envs/$name" | grep "/envs/$name\$" | head -n 1)
          fi
          if [ -z "$prefix" ]; then mark no-environment; exit 0; fi
          mark prefix "$prefix"
          list=$("$manager" list --json -p "$prefix" 2>&1) || { mark failed "$manager list: $(printf '%s' "$list" | tail -n 1)"; exit 0; }
          mark conda-list; printf '%s\n' "$list"
          if [ -x "$prefix/bin/python" ]; then pip_list "$prefix/bin/python"; fi
        elif [ "$pip_only" = yes ]; then
          p=$(command -v python3 2>/dev/null || command -v python 2>/dev/null) && pip_list "$p" || mark failed "no python3 or python on the PATH"
        else
          mark no-conda
        fi
        mark end
        """;

    /// <summary>The script's inputs as sh assignments: values travel in the script, never on a command line.</summary>
    private static string Variables(Target target) =>
        $"name={Quote(target.EnvironmentName ?? "")}\npython={Quote(target.Python ?? "")}\npip_only={(target.PipOnly ? "yes" : "no")}\n";

    public static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Reads the script's output: sections between marker lines.</summary>
    public static HostInventory Parse(string host, string output)
    {
        var sections = new List<(string Head, StringBuilder Body)>();
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                sections.Add((line[Marker.Length..].TrimEnd('\r'), new StringBuilder()));
            }
            else if (sections.Count > 0)
            {
                sections[^1].Body.AppendLine(line);
            }
        }
        if (!sections.Any(s => s.Head == "end") && !sections.Any(s => s.Head.StartsWith("failed", StringComparison.Ordinal) || s.Head == "no-environment"))
        {
            return Failed(host, "the host's answer ended early" + (output.Length == 0 ? " (no output)" : ""));
        }
        string? manager = null, managerPath = null, prefix = null, pythonPath = null, pythonVersion = null, pipError = null;
        var conda = new Dictionary<string, CondaPackage>(StringComparer.Ordinal);
        Dictionary<string, string>? pip = null;
        var status = HostStatus.Checked;
        foreach (var (head, body) in sections)
        {
            var (word, rest) = Split(head);
            switch (word)
            {
                case "manager":
                    (manager, managerPath) = Split(rest);
                    break;
                case "no-conda":
                    status = HostStatus.NoConda;
                    break;
                case "no-environment":
                    status = HostStatus.NoEnvironment;
                    break;
                case "failed":
                    return Failed(host, rest) with { Manager = manager, ManagerPath = managerPath };
                case "prefix":
                    prefix = rest;
                    break;
                case "conda-list":
                    if (!TryReadCondaList(body.ToString(), conda))
                    {
                        return Failed(host, $"{manager} list --json printed something that is not its JSON");
                    }
                    break;
                case "python":
                    (pythonVersion, pythonPath) = Split(rest);
                    break;
                case "python-error":
                    pipError = rest;
                    break;
                case "pip-list":
                    pip = ReadPipList(body.ToString());
                    if (pip is null)
                    {
                        pipError = "pip list --format=json printed something that is not its JSON";
                    }
                    break;
                case "pip-error":
                    pipError = rest;
                    break;
            }
        }
        if (manager is null && pythonVersion is null && status == HostStatus.Checked)
        {
            return Failed(host, pipError ?? "no Python to check");
        }
        return new HostInventory
        {
            Host = host, Status = status, Manager = manager, ManagerPath = managerPath, Prefix = prefix ?? pythonPath,
            PythonPath = pythonPath, PythonVersion = pythonVersion ?? (conda.TryGetValue("python", out var py) ? py.Version : null),
            Conda = conda, Pip = pip, PipError = pipError,
        };
    }

    public static HostInventory Failed(string host, string reason) => new() { Host = host, Status = HostStatus.Failed, Reason = reason };

    private static (string, string) Split(string text)
    {
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? (text, "") : (text[..space], text[(space + 1)..]);
    }

    /// <summary>conda list --json: an array of { name, version, build_string, channel }.</summary>
    public static bool TryReadCondaList(string json, Dictionary<string, CondaPackage> packages)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                return false;
            }
            foreach (var item in document.RootElement.EnumerateArray())
            {
                if (Text(item, "name") is { } name && Text(item, "version") is { } version)
                {
                    packages[name.ToLowerInvariant()] = new CondaPackage(name, version, Text(item, "build_string") ?? Text(item, "build"), Text(item, "channel"));
                }
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>pip list --format=json: an array of { name, version }, keyed by the PEP 503 name.</summary>
    public static Dictionary<string, string>? ReadPipList(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
            {
                return null;
            }
            var packages = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in document.RootElement.EnumerateArray())
            {
                if (Text(item, "name") is { } name && Text(item, "version") is { } version)
                {
                    packages[PipRequirement.Normalize(name)] = version;
                }
            }
            return packages;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement item, string property) =>
        item.ValueKind == JsonValueKind.Object && item.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
