using System.Diagnostics;

namespace Jumpgate.Cli.Client;

/// <summary>Opens a link in the user's browser with the desktop's own opener.</summary>
internal static class Browser
{
    public static void Open(string url)
    {
        var opener = OperatingSystem.IsMacOS() ? "open" : "xdg-open";
        try
        {
            // The link goes as an argument, never through a shell.
            using var process = Process.Start(new ProcessStartInfo(opener) { ArgumentList = { url }, UseShellExecute = false });
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliException($"could not start {opener} to open the browser ({e.Message}); open the link above by hand");
        }
    }
}
