using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Jumpgate.EndToEnd.Environments;

/// <summary>
/// Pure-Python wheels written by hand (a zip with the module, METADATA, WHEEL and RECORD, as PEP 427
/// lays it out), so the test installs real packages with pip and no package index.
/// </summary>
internal static class Wheels
{
    public static string Write(string folder, string name, string version)
    {
        var module = name.Replace('-', '_');
        var path = Path.Combine(folder, $"{module}-{version}-py3-none-any.whl");
        var distInfo = $"{module}-{version}.dist-info";
        var files = new List<(string Path, string Text)>
        {
            ($"{module}/__init__.py", $"__version__ = \"{version}\"\n"),
            ($"{distInfo}/METADATA", $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a test package\n"),
            ($"{distInfo}/WHEEL", "Wheel-Version: 1.0\nGenerator: jumpgate-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        };
        var record = new StringBuilder();
        foreach (var (file, text) in files)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var hash = Convert.ToBase64String(SHA256.HashData(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            record.Append($"{file},sha256={hash},{bytes.Length}\n");
        }
        record.Append($"{distInfo}/RECORD,,\n");
        files.Add(($"{distInfo}/RECORD", record.ToString()));
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (file, text) in files)
        {
            using var entry = new StreamWriter(zip.CreateEntry(file).Open());
            entry.Write(text);
        }
        return path;
    }
}
