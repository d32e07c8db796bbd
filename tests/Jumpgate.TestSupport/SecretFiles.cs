namespace Jumpgate.TestSupport;

/// <summary>Writes token files as a careful admin does (mode 0600 from creation): the agent refuses one others can read.</summary>
public static class SecretFiles
{
    public static async Task WriteAsync(string path, string text)
    {
        File.Delete(path);
        await using var writer = new StreamWriter(new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }));
        await writer.WriteAsync(text);
    }

    public static void Write(string path, string text) => WriteAsync(path, text).GetAwaiter().GetResult();
}
