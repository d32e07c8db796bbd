using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Fleet;

/// <summary>
/// Fleets on the laptop, next to the CLI's settings: <c>fleets/NAME/fleet.json</c> (what was
/// learnt), <c>ssh_config</c> (how each host is reached) and <c>known_hosts</c> (the fleet's own host keys).
/// </summary>
internal sealed class FleetStore(string root)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static FleetStore Default => new(Path.Combine(ClientSettings.Directory, "fleets"));

    public string Root { get; } = root;

    public string Folder(string fleet) => Path.Combine(Root, fleet);

    public string SshConfig(string fleet) => Path.Combine(Folder(fleet), "ssh_config");

    public string KnownHosts(string fleet) => Path.Combine(Folder(fleet), "known_hosts");

    /// <summary>The fleet key: installed on every host so the hosts can log in to each other (mpirun, torchrun).</summary>
    public string FleetKey(string fleet) => Path.Combine(Folder(fleet), "fleet_ed25519");

    private string StatePath(string fleet) => Path.Combine(Folder(fleet), "fleet.json");

    /// <summary>
    /// Where ssh's control sockets go: a short path, because a unix socket's path is limited to
    /// about 100 bytes and ssh adds a random suffix while it creates one.
    /// </summary>
    public string ControlFolder(string fleet)
    {
        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        var parent = string.IsNullOrEmpty(runtime) || !Directory.Exists(runtime)
            ? Path.Combine(Path.GetTempPath(), "jumpgate-" + Environment.UserName)
            : Path.Combine(runtime, "jumpgate");
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Folder(fleet))))[..8];
        var folder = Path.Combine(parent, hash);
        Directory.CreateDirectory(parent, OwnerOnly);
        File.SetUnixFileMode(parent, OwnerOnly);
        Directory.CreateDirectory(folder, OwnerOnly);
        return folder;
    }

    public FleetState? Find(string fleet)
    {
        var path = StatePath(fleet);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), FleetJson.Default.FleetState);
        }
        catch (JsonException e)
        {
            throw new CliException($"{path} is not valid ({e.Message}); run `jumpgate fleet apply` with the fleet's file again");
        }
    }

    public FleetState Load(string fleet) => Find(fleet)
        ?? throw new CliException($"no fleet named {fleet} (known: {(Names() is { Count: > 0 } names ? string.Join(", ", names) : "none")}); run `jumpgate fleet apply FILE` first");

    public IReadOnlyList<string> Names() => Directory.Exists(Root)
        ? Directory.EnumerateDirectories(Root).Where(d => File.Exists(Path.Combine(d, "fleet.json"))).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
        : [];

    /// <summary>Creates the fleet's folder, owner only: it holds where the keys are and which hosts they open.</summary>
    public string Prepare(string fleet)
    {
        Directory.CreateDirectory(Root, OwnerOnly);
        Directory.CreateDirectory(Folder(fleet), OwnerOnly);
        File.SetUnixFileMode(Folder(fleet), OwnerOnly);
        return Folder(fleet);
    }

    public void Save(FleetState state) =>
        WriteAtomically(StatePath(state.Name), stream => JsonSerializer.Serialize(stream, state, FleetJson.Default.FleetState));

    public void WriteText(string path, string text) =>
        WriteAtomically(path, stream => stream.Write(Encoding.UTF8.GetBytes(text)));

    private static void WriteAtomically(string path, Action<Stream> write)
    {
        var temporary = path + ".tmp";
        File.Delete(temporary);
        using (var stream = PrivateFile.CreateNew(temporary))
        {
            write(stream);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
