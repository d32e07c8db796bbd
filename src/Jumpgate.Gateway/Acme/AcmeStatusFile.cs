using System.Text.Json;
using Jumpgate.Core.Api;

namespace Jumpgate.Gateway.Acme;

/// <summary>
/// <c>acme/status.json</c>: the running gateway's last word on its certificate, for `jumpgate status --dir`,
/// which reads the gateway's files rather than asking the process.
/// </summary>
internal static class AcmeStatusFile
{
    private static string PathOf(AcmeOptions options) => Path.Combine(options.StateDirectory, "status.json");

    public static void Write(AcmeOptions options, CertificateStatus status)
    {
        var path = PathOf(options);
        File.WriteAllText(path + ".new", JsonSerializer.Serialize(status, AdminJson.Default.CertificateStatus));
        File.Move(path + ".new", path, overwrite: true);
    }

    /// <summary>The last status written, or null before the gateway has one (never started, or an unreadable file).</summary>
    public static CertificateStatus? Read(AcmeOptions options)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(PathOf(options)), AdminJson.Default.CertificateStatus);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            // No status yet: status shows the rest without it.
            return null;
        }
    }
}
