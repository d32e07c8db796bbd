using System.Text;
using Jumpgate.Cli.Client;

namespace Jumpgate.Cli.Onboarding;

/// <summary>
/// Jumpgate's block in the user's OpenSSH config, between two marker lines: installed once at the
/// end of the file, replaced in place afterwards, and every byte outside the markers left as it was.
/// </summary>
internal static class SshConfigFile
{
    public const string Begin = "# >>> jumpgate >>> (written by `jumpgate ssh-config --install`; edits inside are replaced)";
    public const string End = "# <<< jumpgate <<<";

    /// <summary>~/.ssh/config under $HOME.</summary>
    public static string DefaultPath => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "config");

    /// <summary>What --install did.</summary>
    public enum Outcome { Created, Added, Updated, Unchanged }

    /// <summary>
    /// Puts <paramref name="block"/> between the markers in <paramref name="path"/>. The old file is
    /// copied to PATH.jumpgate-backup before it changes; an unchanged file is not touched at all.
    /// </summary>
    public static Outcome Install(string path, string block)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder))
        {
            // ssh refuses a config in a folder others can write; 0700 is what ssh-keygen creates.
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var exists = File.Exists(path);
        // Latin-1 maps every byte to one char and back, so the user's bytes survive whatever their encoding.
        var old = exists ? Encoding.Latin1.GetString(File.ReadAllBytes(path)) : "";
        var ours = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes($"{Begin}\n{block.TrimEnd('\n')}\n{End}\n"));
        var (text, outcome) = Splice(old, ours);
        if (text == old && exists)
        {
            return Outcome.Unchanged;
        }
        var mode = exists ? File.GetUnixFileMode(path) : UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (exists)
        {
            File.Copy(path, path + ".jumpgate-backup", overwrite: true);
            File.SetUnixFileMode(path + ".jumpgate-backup", mode);
        }
        // A temporary file beside it, renamed over: ssh never reads a half-written config.
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.Delete(temporary);
        using (var stream = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode }))
        {
            stream.Write(Encoding.Latin1.GetBytes(text));
        }
        File.Move(temporary, path, overwrite: true);
        return exists ? outcome : Outcome.Created;
    }

    /// <summary>The block between the markers in <paramref name="path"/>, or null when there is none.</summary>
    public static string? Installed(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        var text = File.ReadAllText(path);
        return Find(text) is { } found ? text[found.Start..found.End] : null;
    }

    private static (string Text, Outcome Outcome) Splice(string old, string ours)
    {
        if (Find(old) is { } found)
        {
            return (old[..found.Start] + ours + old[found.End..], Outcome.Updated);
        }
        var separator = old.Length == 0 ? "" : old.EndsWith('\n') ? "\n" : "\n\n";
        return (old + separator + ours, Outcome.Added);
    }

    /// <summary>From the start of the begin marker's line to the end of the end marker's line, newline included.</summary>
    private static (int Start, int End)? Find(string text)
    {
        var start = LineStartingWith(text, "# >>> jumpgate >>>", 0);
        if (start < 0)
        {
            return null;
        }
        var end = LineStartingWith(text, End, start);
        if (end < 0)
        {
            throw new CliException($"the Jumpgate block in the ssh config has its first marker line but not its last ({End}); remove the block's lines by hand and run `jumpgate ssh-config --install` again");
        }
        var newline = text.IndexOf('\n', end);
        return (start, newline < 0 ? text.Length : newline + 1);
    }

    private static int LineStartingWith(string text, string prefix, int from)
    {
        for (var at = text.IndexOf(prefix, from, StringComparison.Ordinal); at >= 0; at = text.IndexOf(prefix, at + 1, StringComparison.Ordinal))
        {
            if (at == 0 || text[at - 1] == '\n')
            {
                return at;
            }
        }
        return -1;
    }
}
