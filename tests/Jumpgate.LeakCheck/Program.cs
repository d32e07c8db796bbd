using Jumpgate.TestSupport;

// test.sh runs this after `dotnet test`: it fails the run if any token the suite issued appears
// in any log, audit file or store the suite produced (see RunLog and LeakScanner).
if (args.Length != 1 || !Directory.Exists(args[0]))
{
    Console.Error.WriteLine("usage: Jumpgate.LeakCheck RUN-DIRECTORY (the $JUMPGATE_TEST_RUN the tests wrote)");
    return 2;
}
var report = LeakScanner.Scan(args[0]);
var searched = $"{report.Files} files ({report.Bytes / (1024.0 * 1024.0):0.0} MiB)";
if (report.Findings.Count == 0)
{
    Console.WriteLine(report.Tokens == 0
        ? $"token leak check: no tokens were issued in this run; {searched} recorded, nothing to look for"
        : $"token leak check: passed; {report.Tokens} tokens issued by the suite, none found in {searched} of logs, audit files and stores");
    return 0;
}
foreach (var finding in report.Findings.Take(20))
{
    Console.WriteLine($"token leak check: a token's secret (sha256 {finding.SecretHash[..12]}…) appears in {finding.File} line {finding.Line}");
}
Console.WriteLine($"token leak check: FAILED; {report.Findings.Count} occurrences of {report.Findings.Select(f => f.SecretHash).Distinct().Count()} of the {report.Tokens} tokens issued by the suite, in {searched}; the files are kept in {args[0]}");
return 1;
