namespace Jumpgate.Cli.Environments;

internal enum CellState
{
    Ok,
    Missing,
    WrongVersion,
    Extra,

    /// <summary>Nothing to compare: a URL or editable install without a name, or a host that could not be read.</summary>
    NotChecked,

    /// <summary>An extra package's row, on a host that does not have it.</summary>
    Absent,
}

internal sealed record Cell(CellState State, string? Installed = null, string? Note = null)
{
    public bool IsDrift => State is CellState.Missing or CellState.WrongVersion or CellState.Extra;
}

/// <summary>One package of the spec (or, with --extra, one installed beyond it) and its state on each host.</summary>
internal sealed record DriftRow(string Package, string Kind, string? Name, IReadOnlyDictionary<string, Cell> Cells);

/// <summary>What `env check` found: one row per package, one column per host, and each host's own state.</summary>
internal sealed record DriftReport(EnvironmentSpec Spec, IReadOnlyList<HostInventory> Hosts, IReadOnlyList<DriftRow> Rows)
{
    public bool HostDrifts(string host)
    {
        var inventory = Hosts.Single(h => h.Host == host);
        return inventory.Status is HostStatus.NoEnvironment or HostStatus.NoConda || Rows.Any(r => r.Cells[host].IsDrift);
    }

    /// <summary>0: every host matches; 1: some host drifts; 2: some host could not be checked.</summary>
    public int ExitCode => Hosts.Any(h => h.Status == HostStatus.Failed) ? 2 : Hosts.Any(h => HostDrifts(h.Host)) ? 1 : 0;
}

/// <summary>Compares what each host has with the spec, package by package.</summary>
internal static class DriftCheck
{
    public static DriftReport Compare(EnvironmentSpec spec, IReadOnlyList<HostInventory> hosts, bool extra)
    {
        var rows = new List<DriftRow>();
        foreach (var package in spec.Conda)
        {
            rows.Add(new DriftRow(package.Text, "conda", package.Name, hosts.ToDictionary(h => h.Host, h => Conda(package, h))));
        }
        foreach (var requirement in spec.Pip.Where(p => !p.Text.StartsWith('-') || p.Name is not null))
        {
            rows.Add(new DriftRow(requirement.Text, "pip", requirement.Name, hosts.ToDictionary(h => h.Host, h => Pip(requirement, h))));
        }
        if (extra)
        {
            rows.AddRange(Extras(spec, hosts));
        }
        return new DriftReport(spec, hosts, rows);
    }

    private static Cell Conda(MatchSpec package, HostInventory host)
    {
        switch (host.Status)
        {
            case HostStatus.Failed or HostStatus.NoConda:
                return new Cell(CellState.NotChecked);
            case HostStatus.NoEnvironment:
                return new Cell(CellState.Missing);
        }
        if (!host.UsesConda)
        {
            // A Python checked with pip alone: python and pip are what a pip-only spec may name.
            var version = package.Name switch
            {
                "python" => host.PythonVersion,
                "pip" => host.Pip?.GetValueOrDefault("pip"),
                _ => null,
            };
            return version is null ? new Cell(CellState.Missing)
                : package.Matches(version, build: null) ? new Cell(CellState.Ok, version) : new Cell(CellState.WrongVersion, version);
        }
        // conda list names pip-installed packages too (channel pypi); a conda dependency wants a conda package.
        if (!host.Conda.TryGetValue(package.Name, out var installed) || installed.Channel == "pypi")
        {
            return new Cell(CellState.Missing);
        }
        var shown = package.Build is null ? installed.Version : $"{installed.Version}={installed.Build}";
        if (!package.Matches(installed.Version, installed.Build))
        {
            return new Cell(CellState.WrongVersion, shown);
        }
        if (package.Channel is { } channel && installed.Channel is { } from && !SameChannel(channel, from))
        {
            return new Cell(CellState.WrongVersion, shown, $"from {from}");
        }
        return new Cell(CellState.Ok, shown);
    }

    /// <summary>pytorch::x is satisfied from pytorch, conda-forge/linux-64::x from conda-forge; a URL channel by its last part.</summary>
    private static bool SameChannel(string wanted, string installed)
    {
        static string Base(string channel)
        {
            var parts = channel.TrimEnd('/').Split('/');
            var known = new[] { "linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64", "noarch" };
            return (parts.Length > 1 && known.Contains(parts[^1]) ? parts[^2] : parts[^1]).ToLowerInvariant();
        }
        return Base(wanted) == Base(installed);
    }

    private static Cell Pip(PipRequirement requirement, HostInventory host)
    {
        if (host.Status is HostStatus.Failed or HostStatus.NoConda || requirement.Name is null)
        {
            return new Cell(CellState.NotChecked);
        }
        if (host.Status == HostStatus.NoEnvironment)
        {
            return new Cell(CellState.Missing);
        }
        string? installed = null;
        if (host.Pip is { } pip)
        {
            installed = pip.GetValueOrDefault(requirement.Name);
        }
        else if (host.Conda.Values.FirstOrDefault(p => PipRequirement.Normalize(p.Name) == requirement.Name) is { } fromConda)
        {
            installed = fromConda.Version;
        }
        else if (host.PipError is { } error)
        {
            return new Cell(CellState.NotChecked, Note: error);
        }
        if (installed is null)
        {
            return new Cell(CellState.Missing);
        }
        if (requirement.Specifier is { } specifier && !(Pep440Version.TryParse(installed, out var version) && specifier.Matches(version)))
        {
            return new Cell(CellState.WrongVersion, installed);
        }
        return new Cell(CellState.Ok, installed);
    }

    /// <summary>Packages a host has that the spec does not name (pip's own tools aside on a pip-only host).</summary>
    private static IEnumerable<DriftRow> Extras(EnvironmentSpec spec, IReadOnlyList<HostInventory> hosts)
    {
        var named = spec.Conda.Select(c => c.Name).Concat(spec.Pip.Select(p => p.Name).OfType<string>()).ToHashSet(StringComparer.Ordinal);
        var found = new SortedDictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var host in hosts.Where(h => h.Status == HostStatus.Checked))
        {
            IEnumerable<(string Name, string Version)> installed = host.UsesConda
                ? host.Conda.Values.Select(p => (p.Channel == "pypi" ? PipRequirement.Normalize(p.Name) : p.Name.ToLowerInvariant(), p.Version))
                : (host.Pip ?? new Dictionary<string, string>()).Select(p => (p.Key, p.Value)).Where(p => p.Key is not ("pip" or "setuptools" or "wheel"));
            foreach (var (name, version) in installed.Where(p => !named.Contains(p.Item1) && !named.Contains(PipRequirement.Normalize(p.Item1))))
            {
                if (!found.TryGetValue(name, out var versions))
                {
                    found[name] = versions = new Dictionary<string, string>(StringComparer.Ordinal);
                }
                versions[host.Host] = version;
            }
        }
        foreach (var (name, versions) in found)
        {
            yield return new DriftRow(name, "extra", name, hosts.ToDictionary(h => h.Host, h =>
                h.Status != HostStatus.Checked ? new Cell(CellState.NotChecked)
                : versions.TryGetValue(h.Host, out var v) ? new Cell(CellState.Extra, v) : new Cell(CellState.Absent)));
        }
    }
}
