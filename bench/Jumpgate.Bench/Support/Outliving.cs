using System.Globalization;
using Jumpgate.TestSupport;

namespace Jumpgate.Bench.Support;

/// <summary>
/// Processes the benchmark starts that leave its process tree, so that neither its own signal
/// handler nor a SIGKILL of it reaches them: PostgreSQL's postmaster (pg_ctl starts it as a
/// daemon). Each is written, with its start time, to the file bench/run names in
/// <see cref="FileVariable"/>; bench/run stops them when the benchmark ends, however it ends.
/// </summary>
internal static class Outliving
{
    public const string FileVariable = "JUMPGATE_BENCH_OUTLIVING";

    private static readonly Lazy<PostgresCluster> Cluster = new(() =>
    {
        var cluster = PostgresCluster.Shared;
        Record(cluster.Postmaster);
        return cluster;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The run's throw-away PostgreSQL cluster, started on first use and recorded.</summary>
    public static PostgresCluster Postgres => Cluster.Value;

    /// <summary>
    /// Appends "PID STARTTIME" (field 22 of /proc/PID/stat, in clock ticks since boot): bench/run
    /// stops the PID only while it is still that process, never one that reused its number.
    /// </summary>
    private static void Record(int pid)
    {
        if (Environment.GetEnvironmentVariable(FileVariable) is not { Length: > 0 } file)
        {
            return;
        }
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var started = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        File.AppendAllText(file, string.Create(CultureInfo.InvariantCulture, $"{pid} {started}\n"));
    }
}
