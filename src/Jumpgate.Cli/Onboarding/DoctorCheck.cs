using System.Collections.ObjectModel;
using System.Text.Json.Serialization;

namespace Jumpgate.Cli.Onboarding;

/// <summary>One line of a doctor's report: what was checked, what was found, and for a failure what to do.</summary>
internal sealed record DoctorCheck(string Check, bool Ok, string Detail, string? Fix = null)
{
    public static DoctorCheck Pass(string check, string detail) => new(check, true, detail);

    public static DoctorCheck Fail(string check, string detail, string fix) => new(check, false, detail, fix);

    public override string ToString() => Ok ? $"ok    {Check}: {Detail}" : $"FAIL  {Check}: {Detail}; fix: {Fix}";
}

/// <summary>
/// A doctor's checks in the order made. Each line is printed the moment its check is made, since
/// some take seconds (a gateway that does not answer, a real ssh login) and a report held back until
/// the end looks hung; a JSON report is printed whole at the end.
/// </summary>
internal sealed class DoctorChecks(TextWriter? live) : Collection<DoctorCheck>
{
    /// <summary>Says on stderr what a slow check is doing, so the wait has a reason; stdout keeps only the report.</summary>
    public void Progress(string doing)
    {
        if (live is not null)
        {
            Console.Error.WriteLine(doing);
        }
    }

    protected override void InsertItem(int index, DoctorCheck item)
    {
        base.InsertItem(index, item);
        live?.WriteLine(item);
        live?.Flush();
    }
}

/// <summary>Runs a doctor, its report one check a line as it goes, or as JSON at the end; the exit code is 1 when any check failed.</summary>
internal static class DoctorReport
{
    public static async Task<int> RunAsync(Func<DoctorChecks, Task> doctor, bool json)
    {
        var checks = new DoctorChecks(json ? null : Console.Out);
        await doctor(checks);
        if (json)
        {
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize<IReadOnlyList<DoctorCheck>>(checks, DoctorJson.Default.IReadOnlyListDoctorCheck));
        }
        return checks.All(c => c.Ok) ? 0 : 1;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<DoctorCheck>))]
internal sealed partial class DoctorJson : JsonSerializerContext;
