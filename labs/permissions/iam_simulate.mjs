// `labs permissions`: evaluates many IAM requests in one process with @cloud-copilot/iam-simulate
// (AGPL-3.0, an unmodified development dependency pinned in package.json, run as its own process).
// Input on stdin: {"simulations": [{"id": ..., "simulation": <iam-simulate Simulation>, "resourcePolicyName": ...}]}.
// Output on stdout: one JSON array, for each simulation {id, result, decisive, near, error}:
//   result: Allowed | ImplicitlyDenied | ExplicitlyDenied | Error;
//   decisive: the statements that decided ({where, policy, statement});
//   near: Allow statements that name the action but did not apply, and why (resource, condition, principal).
import { runSimulation } from '@cloud-copilot/iam-simulate'

const ANALYSES = [['identity', 'identityAnalysis'], ['resource', 'resourceAnalysis'],
  ['boundary', 'permissionBoundaryAnalysis']]

function why(found) {
  const reasons = []
  if (!found.resourceMatch) reasons.push('resource')
  if (found.principalMatch && !['Match', 'AccountLevelMatch'].includes(found.principalMatch)) reasons.push('principal')
  if (found.conditionMatch && found.conditionMatch !== 'Match') {
    const keys = (found.explain?.conditions ?? []).filter((c) => !c.matches)
      .map((c) => `${c.operator} ${c.conditionKeyValue}${c.failedBecauseMissing ? ' (not in the request)' : ''}`)
    reasons.push(`condition ${keys.join(', ')}`.trim())
  }
  return reasons.join('; ')
}

function named(where, found, resourcePolicyName) {
  return { where, policy: found.policyId ?? resourcePolicyName ?? '', statement: found.explain?.identifier ?? '' }
}

function summarize(response, resourcePolicyName) {
  if (response.resultType === 'error') {
    return { result: 'Error', decisive: [], near: [], error: response.errors.message ?? JSON.stringify(response.errors) }
  }
  const results = response.resultType === 'single' ? [response.result] : response.results
  const decisive = []
  const near = []
  for (const result of results) {
    for (const [where, key] of ANALYSES) {
      const analysis = result.analysis?.[key]
      if (!analysis) continue
      const decided = response.overallResult === 'Allowed' ? analysis.allowStatements : analysis.denyStatements
      for (const found of decided ?? []) decisive.push(named(where, found, resourcePolicyName))
      for (const found of analysis.unmatchedStatements ?? []) {
        if (found.actionMatch && found.explain?.effect === 'Allow') {
          const reason = why(found)
          if (reason !== 'principal') near.push({ ...named(where, found, resourcePolicyName), why: reason })  // not someone else's
        }
      }
    }
  }
  return { result: response.overallResult, decisive, near, error: '' }
}

async function main() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const { simulations } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const out = []
  for (const { id, simulation, resourcePolicyName } of simulations) {
    try {
      out.push({ id, ...summarize(await runSimulation(simulation, {}), resourcePolicyName) })
    } catch (error) {
      out.push({ id, result: 'Error', decisive: [], near: [], error: String(error?.message ?? error) })
    }
  }
  process.stdout.write(JSON.stringify(out))
}

main().catch((error) => {
  process.stderr.write(`iam-simulate: ${error?.message ?? error}\n`)
  process.exit(1)
})
