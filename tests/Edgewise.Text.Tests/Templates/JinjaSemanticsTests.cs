using Edgewise.Text.Templates;
using Xunit;

namespace Edgewise.Text.Tests.Templates;

/// <summary>
/// Engine semantics, one construct per row. Expected strings were produced by Python Jinja2 3.1.6 configured like
/// transformers (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, tojson = json.dumps).
/// </summary>
public sealed class JinjaSemanticsTests
{
    private const string VariablesJson = "{\"d\": {\"b\": 1, \"A\": \"x\", \"a\": [1, 2.5, null, true], \"\\u00e9\": \"\\u00fc\\n\\\"q\\\"\"}, \"items\": [\"x\", \"y\", \"z\"], \"s\": \"  Hello, World  \", \"n\": 7, \"f\": 0.1, \"big\": 1e+20, \"small\": 1.5e-07, \"msgs\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}, {\"role\": \"user\", \"content\": \"bye\"}]}";

    public static TheoryData<string, string> Cases() => new()
    {
        { "{{ d | tojson }}", "{\"b\": 1, \"A\": \"x\", \"a\": [1, 2.5, null, true], \"\u00e9\": \"\u00fc\\n\\\"q\\\"\"}" },
        { "{{ d | tojson(indent=2) }}", "{\n  \"b\": 1,\n  \"A\": \"x\",\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"\u00e9\": \"\u00fc\\n\\\"q\\\"\"\n}" },
        { "{{ d | tojson(ensure_ascii=True, sort_keys=True) }}", "{\"A\": \"x\", \"a\": [1, 2.5, null, true], \"b\": 1, \"\\u00e9\": \"\\u00fc\\n\\\"q\\\"\"}" },
        { "{{ d | tojson(separators=(',', ':')) }}", "{\"b\":1,\"A\":\"x\",\"a\":[1,2.5,null,true],\"\u00e9\":\"\u00fc\\n\\\"q\\\"\"}" },
        { "{% for k, v in d | dictsort %}{{ k }}={{ v }};{% endfor %}", "A=x;a=[1, 2.5, None, True];b=1;\u00e9=\u00fc\n\"q\";" },
        { "{% for k, v in d.items() %}{{ k }},{% endfor %}", "b,A,a,\u00e9," },
        { "{% for x in items %}{{ loop.index }}/{{ loop.length }}{{ '!' if loop.first }}{{ '.' if loop.last else ',' }}{{ loop.revindex0 }}{% endfor %}", "1/3!,22/3,13/3.0" },
        { "{% for x in [] %}a{% else %}empty{% endfor %}", "empty" },
        { "{% for x in items if x != 'y' %}{{ loop.index }}{{ x }}{% endfor %}", "1x2z" },
        { "{% for x in items %}{% if x == 'y' %}{% continue %}{% endif %}{% if x == 'z' %}{% break %}{% endif %}{{ x }}{% endfor %}", "x" },
        { "{{ items[1:] }}|{{ items[-1] }}|{{ items[::-1] | join('-') }}|{{ s[2:7] }}", "['y', 'z']|z|z-y-x|Hello" },
        { "[{{ s | trim }}]|{{ s.strip().lower() }}|{{ s.split(',') }}|{{ s.split() | length }}|{{ 'a-b-c'.split('-', 1) }}", "[Hello, World]|hello, world|['  Hello', ' World  ']|2|['a', 'b-c']" },
        { "{{ s.startswith('  He') }} {{ s.endswith('x') }} {{ 'abc'.replace('b', 'X') }} {{ 'abc' | upper }} {{ 'Hello World' | title }}", "True False aXc ABC Hello World" },
        { "{{ n // 2 }} {{ n / 2 }} {{ n % 3 }} {{ -n % 3 }} {{ 2 ** 10 }} {{ n * 1.5 }} {{ f * 3 }} {{ big }} {{ small }} {{ 1e16 }} {{ 123456789.0 }}", "3 3.5 1 2 1024 10.5 0.30000000000000004 1e+20 1.5e-07 1e+16 123456789.0" },
        { "{{ 'a' ~ n ~ none ~ true }} {{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v'} }}", "a7NoneTrue [1, 'a', None, True, 2.0] {'k': 'v'}" },
        { "{{ 'ell' in s }} {{ 'x' not in items }} {{ 'b' in d }} {{ 3 in [1, 2, 3] }} {{ 1 == 1.0 }} {{ 1 < 2 < 3 }}", "True False True True True True" },
        { "{{ undefined_thing is defined }} {{ none is none }} {{ d is mapping }} {{ items is sequence }} {{ s is string }} {{ n is number }} {{ true is boolean }} {{ n is odd }} {{ 10 is divisibleby(5) }} {{ s is iterable }}", "False True True True True True True True True True" },
        { "{{ missing | default('dflt') }} {{ '' | default('empty', true) }} {{ none | default('x') }} {{ [3, 1, 2] | sort | list }} {{ items | first }}{{ items | last }} {{ '42' | int + 1 }} {{ 3 | string ~ '!' }}", "dflt empty None [1, 2, 3] xz 43 3!" },
        { "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }}|{{ msgs | rejectattr('role', 'equalto', 'user') | list | length }}|{{ msgs | map(attribute='role') | unique | list }}", "hi,bye|1|['user', 'assistant']" },
        { "{% set ns = namespace(count=0, names=[]) %}{% for m in msgs %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ ns.count }}", "3" },
        { "{% set x = 1 %}{% for i in range(3) %}{% set x = i %}{% endfor %}{{ x }}", "1" },
        { "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', punct='?') }} {{ greet('Cy', 'Hi') }}", "Hello, Ann! Hello, Bob? Hi, Cy!" },
        { "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(4) }}", "4321" },
        { "{% set block %}\n  inner {{ n }}\n{% endset %}[{{ block }}]", "[  inner 7\n]" },
        { "a\n  {% if true %}\n    yes\n  {% endif %}\nb\n{# comment #}\nc {%- if true %} d {% endif -%} e\n", "a\n    yes\nb\nc d e" },
        { "{{ 'x' if n > 5 else 'y' }}{{ 'z' if false }}|{{ (1, 2)[0] }}|{{ range(2, 8, 3) | list }}|{{ 'abc' * 2 }}", "x|1|[2, 5]|abcabc" },
        { "{{ 'line1\nline2\n\nline4' | indent(2) }}|{{ 'a\nb' | indent(4, true) }}", "line1\n  line2\n\n  line4|    a\n    b" },
        { "{{ d.a[1] }} {{ d['A'] }} {{ d.get('zz', 'no') }} {{ d.get('b') }} {{ d.keys() | list | length }} {{ msgs[0].content }}", "2.5 x no 1 4 hi" },
        { "{{ \"it's\" }} {{ 'say \"hi\"' }} {{ 'tab\\tend' }} {{ ['it\\'s'] }}", "it's say \"hi\" tab\tend [\"it's\"]" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_like_python_jinja2(string template, string expected)
    {
        var variables = ((JinjaDict)JinjaValues.ParseJson(VariablesJson)!).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(expected, JinjaTemplate.Parse(template).Render(variables));
    }
}
