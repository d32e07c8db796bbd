namespace Jumpgate.Core.Config;

/// <summary>
/// Our own words for a file that could not be read or written: what went wrong with which path,
/// and what to do, where the framework says only what ("Could not find file '/etc/x'."). Errors the
/// OS words itself (no space left, a read-only file system) keep the OS's words. The path is read
/// from either form of the framework's message, so the words hold in a build that keeps only its
/// resource keys ("IO_FileNotFound_FileName, /etc/x", UseSystemResourceKeys).
/// </summary>
public static class FileErrors
{
    /// <summary>The words for <paramref name="error"/>; <paramref name="path"/> when the caller knows it, else the one the error names.</summary>
    public static string Describe(Exception error, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        path ??= (error as FileNotFoundException)?.FileName ?? PathIn(error.Message) ?? "the file";
        return error switch
        {
            FileNotFoundException => $"{path} does not exist; check the path (a relative one starts from {Environment.CurrentDirectory})",
            DirectoryNotFoundException => $"a folder on the way to {path} does not exist; check the path, or create the folder",
            UnauthorizedAccessException => $"{path}: permission denied; check its owner and mode and those of its folders (`ls -ld {path}`), or run as a user who may use it",
            PathTooLongException => $"{path}: the path is too long; use a shorter one",
            IOException io when io.HResult == FileExistsHResult => $"{path} already exists; remove it or choose another name",
            _ => error.Message,
        };
    }

    /// <summary>ERROR_FILE_EXISTS as an HRESULT, what .NET gives an IOException for EEXIST.</summary>
    private const int FileExistsHResult = unchecked((int)0x80070050);

    /// <summary>
    /// The path in a framework message: between quotes in the worded text ("Could not find file
    /// '/x'."), after the key in the resource-key text ("IO_FileNotFound_FileName, /x").
    /// </summary>
    private static string? PathIn(string message)
    {
        var open = message.IndexOf('\'', StringComparison.Ordinal);
        var close = message.LastIndexOf('\'');
        if (open >= 0 && close > open)
        {
            return message[(open + 1)..close];
        }
        var comma = message.IndexOf(", ", StringComparison.Ordinal);
        return comma >= 0 && !message[..comma].Contains(' ', StringComparison.Ordinal) ? message[(comma + 2)..] : null;
    }
}
