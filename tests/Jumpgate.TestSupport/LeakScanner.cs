namespace Jumpgate.TestSupport;

/// <summary>
/// The suite-wide token leak check: searches every file a run recorded (<see cref="RunLog"/>) for
/// the secret of any token the suite issued, knowing only the secrets' SHA-256. Every run of at
/// least <see cref="SecretLength"/> base64url characters is cut into every window of that length
/// and each window is hashed, so a secret is found with or without its jgu_/jga_/jgx_ prefix, in
/// text or inside a binary store. Logs hold few such runs, so this costs little.
/// </summary>
public static class LeakScanner
{
    /// <summary>A token's secret: 32 random bytes in unpadded base64url.</summary>
    public const int SecretLength = 43;

    public sealed record Finding(string File, int Line, string SecretHash);

    public sealed record Report(int Tokens, int Files, long Bytes, IReadOnlyList<Finding> Findings);

    public static Report Scan(string runDirectory)
    {
        var hashes = new HashSet<string>(StringComparer.Ordinal);
        var tokens = Path.Combine(runDirectory, "tokens");
        if (Directory.Exists(tokens))
        {
            foreach (var file in Directory.GetFiles(tokens))
            {
                hashes.UnionWith(File.ReadAllLines(file).Where(l => l.Length > 0));
            }
        }
        var findings = new List<Finding>();
        var files = 0;
        long bytes = 0;
        foreach (var folder in new[] { "logs", "files" }.Select(f => Path.Combine(runDirectory, f)).Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            {
                var content = File.ReadAllBytes(file);
                files++;
                bytes += content.Length;
                findings.AddRange(Search(content, hashes).Select(f => new Finding(Path.GetRelativePath(runDirectory, file), f.Line, f.Hash)));
            }
        }
        return new Report(hashes.Count, files, bytes, findings);
    }

    private static IEnumerable<(int Line, string Hash)> Search(byte[] content, HashSet<string> hashes)
    {
        var line = 1;
        var start = -1;
        for (var i = 0; i <= content.Length; i++)
        {
            var inRun = i < content.Length && IsBase64Url(content[i]);
            if (inRun && start < 0)
            {
                start = i;
            }
            if (!inRun && start >= 0)
            {
                for (var from = start; from + SecretLength <= i; from++)
                {
                    var hash = RunLog.HashOfSecret(System.Text.Encoding.ASCII.GetString(content, from, SecretLength));
                    if (hashes.Contains(hash))
                    {
                        yield return (line, hash);
                    }
                }
                start = -1;
            }
            if (i < content.Length && content[i] == '\n')
            {
                line++;
            }
        }
    }

    private static bool IsBase64Url(byte b) => b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_';
}
