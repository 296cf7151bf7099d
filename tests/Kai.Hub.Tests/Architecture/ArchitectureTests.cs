using System.Reflection;
using System.Reflection.Emit;
using System.Text.RegularExpressions;
using Kai.Hub.Routing;

namespace Kai.Hub.Tests.Architecture;

/// <summary>
/// Holds the line of docs/architecture.md the way RouteInventoryTests holds permissions: only the router and the edges touch a
/// link's send path, owners are compared only in the one policy (Auth/Access.cs), and capability namespaces do not depend on each
/// other in a cycle. The checks read the compiled hub (its IL), so they see what the code does, not what it says.
/// </summary>
public sealed partial class ArchitectureTests
{
    private static readonly Assembly Hub = typeof(Router).Assembly;

    /// <summary>Namespaces allowed to call a link's send path: the router (delivery targets) and the edges (acks, errors, welcomes).</summary>
    private static readonly string[] SendPathOwners = ["Kai.Hub.Routing", "Kai.Hub.Edges"];

    [Fact]
    public void Only_the_router_and_the_edges_touch_a_links_send_path()
    {
        var sendPath = typeof(LinkConnection).GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .Where(m => m.Name is nameof(LinkConnection.TrySend) or nameof(LinkConnection.RunWriterAsync) or nameof(LinkConnection.RunReaderAsync))
            .ToHashSet();
        Assert.Equal(3, sendPath.Count);
        var offenders = new List<string>();
        foreach (var (method, callee) in Calls())
        {
            if (callee is MethodInfo m && sendPath.Contains(m) && !SendPathOwners.Contains(Namespace(method.DeclaringType!)))
            {
                offenders.Add($"{Outer(method.DeclaringType!).FullName}.{method.Name} calls LinkConnection.{m.Name}");
            }
        }
        Assert.True(offenders.Count == 0, "Route through the router instead of writing to a link:\n" + string.Join("\n", offenders.Distinct()));
    }

    [Fact]
    public void Owners_are_compared_only_in_the_one_access_policy()
    {
        var root = SourceRoot();
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            // The store keeps tenants apart at the data level (owner columns in its queries); that is not an access decision.
            if (relative is "Auth/Access.cs" || relative.StartsWith("Storage/", StringComparison.Ordinal)
                || relative.StartsWith("bin/", StringComparison.Ordinal) || relative.StartsWith("obj/", StringComparison.Ordinal))
            {
                continue;
            }
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.StartsWith("//", StringComparison.Ordinal))
                {
                    continue;
                }
                if (OwnerComparison().IsMatch(line) || AdminShortcut().IsMatch(line))
                {
                    offenders.Add($"{relative}:{i + 1}: {line}");
                }
            }
        }
        Assert.True(offenders.Count == 0, "Ask Kai.Hub.Auth.Access instead of comparing owners or testing IsAdmin inline:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void Capability_namespaces_do_not_depend_on_each_other_in_a_cycle()
    {
        var edges = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        void Add(Type from, Type? to)
        {
            if (to is null)
            {
                return;
            }
            while (to.HasElementType)
            {
                to = to.GetElementType()!;
            }
            if (to.IsGenericType && !to.IsGenericTypeDefinition)
            {
                foreach (var a in to.GetGenericArguments())
                {
                    Add(from, a);
                }
                to = to.GetGenericTypeDefinition();
            }
            var a1 = Capability(from);
            var b1 = to.Assembly == Hub ? Capability(to) : null;
            if (a1 is not null && b1 is not null && a1 != b1)
            {
                (edges.TryGetValue(a1, out var set) ? set : edges[a1] = new HashSet<string>(StringComparer.Ordinal)).Add(b1);
                Witnesses.TryAdd((a1, b1), $"{Outer(from).FullName} uses {to.FullName}");
            }
        }
        foreach (var type in Hub.GetTypes())
        {
            Add(type, type.BaseType);
            foreach (var i in type.GetInterfaces())
            {
                Add(type, i);
            }
            foreach (var f in type.GetFields(All))
            {
                Add(type, f.FieldType);
            }
            foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
            {
                if (m is MethodInfo mi)
                {
                    Add(type, mi.ReturnType);
                }
                foreach (var p in m.GetParameters())
                {
                    Add(type, p.ParameterType);
                }
            }
        }
        foreach (var (method, callee) in Calls())
        {
            Add(method.DeclaringType!, callee.DeclaringType);
        }
        var cycles = FindCycles(edges);
        Assert.True(cycles.Count == 0, "Capability namespaces depend on each other in a cycle:\n" + string.Join("\n", cycles)
            + "\nwhere:\n" + string.Join("\n", Witnesses.Where(w => cycles.Any(c => c.Contains(w.Key.From + " -> " + w.Key.To, StringComparison.Ordinal)))
                .Select(w => $"{w.Key.From} -> {w.Key.To}: {w.Value}")));
    }

    private static readonly Dictionary<(string From, string To), string> Witnesses = [];

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>
    /// The hub's shared kernel: errors, storage, telemetry, authentication, security and the housekeeping scheduler. Every capability
    /// may use it; it is one node of the graph (its parts lean on each other, as a platform does), and it must not depend on a
    /// capability, which would close a cycle through it.
    /// </summary>
    private static readonly HashSet<string> Kernel = new(StringComparer.Ordinal) { "Errors", "Storage", "Observability", "Auth", "Security", "Housekeeping" };

    /// <summary>The capability folder of a type (<c>Kai.Hub.Tasks</c> → <c>Tasks</c>; the kernel's folders → <c>Kernel</c>); null for the composition root.</summary>
    private static string? Capability(Type type)
    {
        var ns = Namespace(type);
        if (!ns.StartsWith("Kai.Hub.", StringComparison.Ordinal))
        {
            return null;
        }
        var folder = ns["Kai.Hub.".Length..].Split('.')[0];
        return Kernel.Contains(folder) ? "Kernel" : folder;
    }

    private static string Namespace(Type type) => Outer(type).Namespace ?? "";

    private static Type Outer(Type type)
    {
        while (type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }
        return type;
    }

    private static List<string> FindCycles(Dictionary<string, HashSet<string>> edges)
    {
        var cycles = new List<string>();
        foreach (var start in edges.Keys)
        {
            // Breadth-first from each neighbour back to start: report the shortest cycle through start, once per set of members.
            foreach (var first in edges[start])
            {
                var previous = new Dictionary<string, string> { [first] = start };
                var queue = new Queue<string>([first]);
                while (queue.TryDequeue(out var node))
                {
                    if (node == start)
                    {
                        var path = new List<string> { start };
                        for (var n = previous[start]; n != start; n = previous[n])
                        {
                            path.Add(n);
                        }
                        path.Reverse();
                        var text = string.Join(" -> ", path.Prepend(start));
                        if (!cycles.Any(c => c.Split(" -> ").ToHashSet().SetEquals(path.Prepend(start))))
                        {
                            cycles.Add(text);
                        }
                        break;
                    }
                    foreach (var next in edges.GetValueOrDefault(node) ?? [])
                    {
                        if (previous.TryAdd(next, node))
                        {
                            queue.Enqueue(next);
                        }
                    }
                }
            }
        }
        return cycles;
    }

    /// <summary>Every (method, method it calls or constructs) pair in the hub's IL.</summary>
    private static IEnumerable<(MethodBase Method, MethodBase Callee)> Calls()
    {
        foreach (var type in Hub.GetTypes())
        {
            foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
            {
                var il = method.GetMethodBody()?.GetILAsByteArray();
                if (il is null)
                {
                    continue;
                }
                foreach (var token in CallTokens(il))
                {
                    MethodBase? callee = null;
                    try
                    {
                        callee = method.Module.ResolveMethod(token, type.IsGenericType ? type.GetGenericArguments() : null,
                            method.IsGenericMethod ? method.GetGenericArguments() : null);
                    }
                    catch (ArgumentException)
                    {
                        // A token into a generic context this simple resolver cannot bind; not a call we look for.
                    }
                    if (callee is not null)
                    {
                        yield return (method, callee);
                    }
                }
            }
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The metadata tokens of call, callvirt, newobj and ldftn instructions.</summary>
    private static IEnumerable<int> CallTokens(byte[] il)
    {
        var i = 0;
        while (i < il.Length)
        {
            short value = il[i] == 0xFE && i + 1 < il.Length ? (short)(0xFE00 | il[i + 1]) : il[i];
            if (!OpCodesByValue.TryGetValue(value, out var op))
            {
                yield break;
            }
            i += op.Size;
            var operand = OperandSize(op, il, i);
            if (op == OpCodes.Call || op == OpCodes.Callvirt || op == OpCodes.Newobj || op == OpCodes.Ldftn || op == OpCodes.Ldvirtftn)
            {
                yield return BitConverter.ToInt32(il, i);
            }
            i += operand;
        }
    }

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + (BitConverter.ToInt32(il, at) * 4),
        _ => 4,
    };

    private static string SourceRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Kai.sln")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return Path.Combine(dir!.FullName, "src", "Kai.Hub");
    }

    // "x.OwnerId == y", "a == b.OwnerId", "OwnerId != ..." in C# (SQL text such as "owner_id = @owner" is not C#).
    [GeneratedRegex(@"OwnerId\s*[!=]=|[!=]=\s*[\w.]*OwnerId\b")]
    private static partial Regex OwnerComparison();

    // "principal.IsAdmin ||", "IsAdmin ? null :" and the like: an inline admin bypass.
    [GeneratedRegex(@"\.IsAdmin\s*(\|\||\?)")]
    private static partial Regex AdminShortcut();
}
