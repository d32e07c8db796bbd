using System.Globalization;

namespace Jumpgate.Core.Security;

/// <summary>
/// Files that hold a secret (tokens, keys, the store): created readable by their owner only
/// (mode 0600) from the first byte, and checked, as OpenSSH checks a private key, before use.
/// </summary>
internal static class PrivateFile
{
    /// <summary>Owner read and write: the only mode a secret file is created with.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The bits that let another user read or change the file.</summary>
    private const UnixFileMode OpenToOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>
    /// Creates <paramref name="path"/> with mode 0600 and opens it for writing; fails if it exists
    /// (<see cref="FileMode.CreateNew"/>), so neither an old file's mode nor a planted link is inherited.
    /// </summary>
    public static FileStream CreateNew(string path) => new(path, new FileStreamOptions
    {
        Mode = FileMode.CreateNew,
        Access = FileAccess.Write,
        UnixCreateMode = OwnerOnly,
    });

    /// <summary>
    /// Why <paramref name="path"/> is not private (<paramref name="why"/> says why that matters),
    /// ending in the command that fixes it; null when neither its group nor others may read or write it.
    /// </summary>
    public static string? Exposure(string path, string why = "")
    {
        var mode = File.GetUnixFileMode(path);
        if ((mode & OpenToOthers) == 0)
        {
            return null;
        }
        var who = (mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0 ? "can be read by other users" : "can be changed by other users";
        return $"{path} {who} (mode {Octal(mode)}){why}; fix it with `chmod 600 {path}`";
    }

    /// <summary>A mode as ls and chmod write it: 0644.</summary>
    public static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}
