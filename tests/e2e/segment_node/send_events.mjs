// Sends one shopping visit through the real @segment/analytics-node client to the ingest named on the command line:
//   node send_events.mjs INGEST_URL WRITE_KEY VISITOR_PREFIX
// Exits non-zero if the SDK reports any delivery error, so the Python test sees SDK-side failures too.
import { Analytics } from '@segment/analytics-node'

const [ingest, writeKey, prefix] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host: ingest, path: '/v1/batch', flushAt: 20, flushInterval: 500, maxRetries: 2 })
let failed = false
analytics.on('error', (err) => {
  failed = true
  console.error('segment error:', err.code ?? '', err.reason?.message ?? err.message ?? err)
})

const context = {
  ip: '198.51.100.23',
  userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
}
const buyer = `${prefix}-buyer`
const product = { product_id: 'sku-42', sku: 'sku-42', name: 'Lamp', price: 21.25, quantity: 2 }
analytics.identify({ anonymousId: buyer, userId: `${prefix}-crm`, traits: { plan: 'pro' }, context })
analytics.page({ anonymousId: buyer, name: 'Home', properties: { url: 'https://shop.test/', title: 'Home' }, context })
analytics.page({ anonymousId: buyer, name: 'Lamp', properties: { url: 'https://shop.test/p/sku-42' }, context })
analytics.track({ anonymousId: buyer, event: 'Product Viewed', properties: product, context })
analytics.track({ anonymousId: buyer, event: 'Product Added', properties: product, context })
analytics.track({
  anonymousId: buyer,
  event: 'Order Completed',
  properties: { order_id: `${prefix}-o1`, total: 42.5, currency: 'USD', products: [product] },
  context,
})
analytics.page({ anonymousId: `${prefix}-browser`, properties: { url: 'https://shop.test/' }, context })
await analytics.closeAndFlush({ timeout: 20000 })
process.exit(failed ? 1 : 0)
