using System.Text.Json.Serialization;

namespace Jumpgate.Cli.Onboarding;

/// <summary>One line of a doctor's report: what was checked, what was found, and for a failure what to do.</summary>
internal sealed record DoctorCheck(string Check, bool Ok, string Detail, string? Fix = null)
{
    public static DoctorCheck Pass(string check, string detail) => new(check, true, detail);

    public static DoctorCheck Fail(string check, string detail, string fix) => new(check, false, detail, fix);

    public override string ToString() => Ok ? $"ok    {Check}: {Detail}" : $"FAIL  {Check}: {Detail}; fix: {Fix}";
}

/// <summary>Prints a report one check a line, or as JSON; the exit code is 1 when any check failed.</summary>
internal static class DoctorReport
{
    public static int Print(IReadOnlyList<DoctorCheck> checks, bool json)
    {
        if (json)
        {
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(checks, DoctorJson.Default.IReadOnlyListDoctorCheck));
        }
        else
        {
            foreach (var check in checks)
            {
                Console.WriteLine(check);
            }
        }
        return checks.All(c => c.Ok) ? 0 : 1;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(IReadOnlyList<DoctorCheck>))]
internal sealed partial class DoctorJson : JsonSerializerContext;
