using System.CommandLine;
using Jumpgate.Cli.Client;
using Jumpgate.Core.Config;
using Jumpgate.Core.Security;

namespace Jumpgate.Cli.Commands;

/// <summary>
/// Where a command that issues a token puts it: stdout, or with <c>-o FILE</c> a file created with
/// mode 0600 from its first byte. A shell's <c>&gt; FILE</c> makes it 0644 under the usual umask,
/// and the agent refuses a token file others can read.
/// </summary>
internal sealed class TokenOutput
{
    private readonly Option<string?> _file = new("--output", "-o")
    {
        Description = "Write the token to this file, created readable by you only (mode 0600), instead of printing it; an existing file is refused unless --force",
    };

    private readonly Option<bool> _force = new("--force") { Description = "With -o: replace the file if it exists" };

    public static TokenOutput AddTo(Command command)
    {
        var output = new TokenOutput();
        command.Options.Add(output._file);
        command.Options.Add(output._force);
        return output;
    }

    /// <summary>The file -o names, or null when the token goes to stdout.</summary>
    public string? File(ParseResult result) => result.GetValue(_file);

    /// <summary>Whether --force lets -o replace an existing file.</summary>
    public bool Force(ParseResult result) => result.GetValue(_force);

    /// <summary>
    /// Issues the token with <paramref name="issue"/> and writes it out. The file is created before
    /// the token is issued, so a refused file (it exists, its folder does not) issues nothing.
    /// </summary>
    public async Task WriteAsync(ParseResult result, Func<Task<string>> issue)
    {
        if (result.GetValue(_file) is not { } path)
        {
            Console.WriteLine(await issue());
            return;
        }
        await WriteFileAsync(path, result.GetValue(_force), issue);
    }

    /// <summary>Issues the token with <paramref name="issue"/> into <paramref name="path"/>, created 0600 before the token is issued.</summary>
    public static async Task WriteFileAsync(string path, bool force, Func<Task<string>> issue)
    {
        // With --force, write a fresh 0600 file beside the old one and rename it over: the old file's mode never applies.
        var written = force ? $"{path}.{Guid.NewGuid():N}.tmp" : path;
        FileStream stream;
        try
        {
            stream = PrivateFile.CreateNew(written);
        }
        catch (IOException) when (!force && System.IO.File.Exists(path))
        {
            throw new CliException($"{path} already exists; give --force to replace it, or another file with -o");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot create {path}: {FileErrors.Describe(e, path)}");
        }
        try
        {
            await using (stream)
            {
                var token = await issue();
                await using var writer = new StreamWriter(stream);
                await writer.WriteLineAsync(token);
            }
            if (force)
            {
                System.IO.File.Move(written, path, overwrite: true);
            }
        }
        catch
        {
            System.IO.File.Delete(written);
            throw;
        }
        await Console.Error.WriteLineAsync($"token written to {path} (mode 0600)");
    }
}
