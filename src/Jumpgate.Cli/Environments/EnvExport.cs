using System.Globalization;
using System.Text;
using Jumpgate.Cli.Client;

namespace Jumpgate.Cli.Environments;

/// <summary>
/// A host's environment as an environment.yml, so a known-good machine becomes the spec: conda's own
/// <c>env export --from-history</c> (what was asked for, not every dependency it pulled in), or for a
/// Python without conda, its top-level pip packages pinned (<c>pip list --not-required</c>).
/// </summary>
internal static class EnvExport
{
    public static string Script(string? name, string? python) =>
        $"name={HostProbe.Quote(name ?? "")}\npython={HostProbe.Quote(python ?? "")}\n" + """
        if [ -z "$python" ]; then
          for m in conda mamba micromamba; do
            manager=$(command -v "$m" 2>/dev/null) && [ -n "$manager" ] && break
            manager=
          done
          for p in "$CONDA_EXE" "$MAMBA_EXE" "$HOME/miniforge3/bin/conda" "$HOME/miniconda3/bin/conda" "$HOME/anaconda3/bin/conda" /opt/conda/bin/conda; do
            [ -z "$manager" ] && [ -n "$p" ] && [ -x "$p" ] && manager=$p
          done
          if [ -n "$manager" ]; then
            if [ -z "$name" ]; then echo "@@jumpgate:failed name the environment with --name (conda env list shows them)"; exit 0; fi
            echo "@@jumpgate:conda"
            exec "$manager" env export --from-history -n "$name"
          fi
          python=$(command -v python3 2>/dev/null || command -v python 2>/dev/null) || { echo "@@jumpgate:failed no conda, mamba, micromamba or python3 on this host"; exit 0; }
        fi
        echo "@@jumpgate:pip $("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        exec "$python" -m pip list --not-required --format=json --disable-pip-version-check
        """;

    /// <summary>Turns the script's answer into the file's text, or throws with the host's reason.</summary>
    public static string ToEnvironmentFile(string host, string? name, SshResultText answer)
    {
        var lines = answer.Stdout.Split('\n');
        var head = lines.FirstOrDefault(l => l.StartsWith(HostProbe.Marker, StringComparison.Ordinal));
        if (head is null || answer.ExitCode != 0)
        {
            throw new CliException($"{host}: export failed (exit {answer.ExitCode}): {FirstLine(answer.Stderr) ?? FirstLine(answer.Stdout) ?? "no output"}");
        }
        var body = string.Join('\n', lines.SkipWhile(l => l != head).Skip(1));
        var kind = head[HostProbe.Marker.Length..];
        if (kind.StartsWith("failed ", StringComparison.Ordinal))
        {
            throw new CliException($"{host}: {kind["failed ".Length..]}");
        }
        if (kind == "conda")
        {
            return body.TrimEnd() + "\n";
        }
        var packages = HostProbe.ReadPipList(body) ?? throw new CliException($"{host}: pip list --format=json printed something that is not its JSON");
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# Exported by `jumpgate env export` from {host}: its top-level pip packages, pinned.\n");
        if (name is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"name: {name}\n");
        }
        text.Append("dependencies:\n");
        text.Append(CultureInfo.InvariantCulture, $"  - python={kind["pip ".Length..].Trim()}\n");
        text.Append("  - pip\n");
        text.Append("  - pip:\n");
        foreach (var (package, version) in packages.Where(p => p.Key is not ("pip" or "setuptools" or "wheel")).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"    - {package}=={version}\n");
        }
        return text.ToString();
    }

    private static string? FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();

    internal sealed record SshResultText(int ExitCode, string Stdout, string Stderr);
}
